import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { type ExchangeId, parseStreamName } from '@visualgo/market';
import { HistoryUnavailable } from '../bus-errors.js';
import { DEFAULT_MAX_QUEUED, type MarketBus, type SubscribeOptions } from '../market-bus.js';
import {
  type CandleEvent,
  candleEvent,
  candleSeq,
  FEED_STREAM,
  type MarketEvent,
  type MarketEventType,
  openTimeOfSeq,
  statusEvent,
} from '../market-event.js';
import { Subscription } from '../subscription.js';
import { KlineHistory, type StoredCandle } from './kline-history.js';
import { KlineWriter, type StoreOutcome } from './kline-writer.js';
import { NatsPublisher } from './nats-publisher.js';
import { ensureStreams, type StreamSettings } from './nats-streams.js';
import { type ChannelHost, StreamChannel } from './stream-channel.js';
import { StreamMark } from './stream-mark.js';

const ALL_TYPES: readonly MarketEventType[] = ['candle', 'trade', 'status'];

/** What the bus tells its owner (for logs and metrics); every hook is optional and must not throw. */
export interface NatsBusObserver {
  /** A message that is not a bus event was dropped. */
  malformed?(subject: string, reason: string): void;
  /** A closed candle was not stored: older than the newest stored, or refused by the store. */
  notStored?(event: CandleEvent, outcome: StoreOutcome): void;
  /** Storing or reading the store failed for a moment; it is retried. */
  retrying?(what: 'store' | 'recovery', error: unknown): void;
  /** Live delivery missed closed candles (a lost connection, a late subscriber) and the store filled them. */
  recovered?(stream: string, candles: number): void;
  /** Events dropped because the outbox was full. */
  dropped?(type: 'open-candle' | 'trade', count: number): void;
  /** The connection to NATS was lost, or is back. */
  connection?(state: 'disconnected' | 'reconnected'): void;
}

export interface NatsBusOptions extends StreamSettings {
  /** The venue of everything this bus carries: the `<venue>` token of its subjects. */
  readonly venue: ExchangeId;
  /** Default bound of a subscriber's live queue. */
  readonly maxQueued?: number;
  /** Events that may wait to be published; see `NatsPublisher`. */
  readonly maxPending?: number;
  /**
   * How long a trade that arrives ahead of the next id waits for the ones before it (from a
   * producer that lags the other) before the hole is reported. Default 5 s.
   */
  readonly tradeGapWaitMs?: number;
  /**
   * On start: `update` creates the streams or brings them to this configuration (the producers);
   * `create` only creates missing ones (readers, whose settings must not win); `none`. Default `update`.
   */
  readonly manageStreams?: 'update' | 'create' | 'none';
  /**
   * Streams this process publishes itself (a data-ingest instance's own shards, and
   * {@link FEED_STREAM} for its feed status). Its subscribers get them from its own publishing
   * only, as on the in-process bus: the process does not take their subjects from NATS, so it is
   * not sent every other producer's copy of everything it produces (which, for the second owner of
   * a shard, doubles what it reads and queues its JetStream acknowledgements behind the other
   * owner's trades). Default none.
   */
  readonly produced?: Iterable<string>;
  /**
   * This producer's name (`data-ingest-0`), stamped on the status events it publishes so that
   * subscribers can merge several producers' reports of a stream into one feed status.
   */
  readonly source?: string;
  /**
   * Whether a producer named in status events is alive (its registry report is fresh); a gateway
   * answers from the reports it watches. Default: alive while heard from within
   * `PRODUCER_TTL_MS`. See `StatusMerge`.
   */
  readonly sourceAlive?: (source: string) => boolean;
  readonly observer?: NatsBusObserver;
}

export interface NatsConnectOptions {
  /**
   * `nats://host:port`, or several, comma-separated; `nats://user:password@host:port` connects as
   * that user (the per-role users of `deploy/nats/nats-server.conf`).
   */
  readonly servers: string | readonly string[];
  /** The client name the server shows (`data-ingest-1`). */
  readonly name?: string;
  /** Milliseconds between reconnection attempts (default 250, with jitter). */
  readonly reconnectTimeWaitMs?: number;
}

/** A NATS connection that never gives up reconnecting, as every bus user wants. */
export function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const listed = typeof options.servers === 'string' ? options.servers.split(',') : [...options.servers];
  const { servers, user, pass } = credentialsOf(listed.map((s) => s.trim()).filter((s) => s !== ''));
  const connection: ConnectionOptions = {
    servers,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
    reconnectJitter: 250,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    maxPingOut: 3,
    // A bus hands its own events to its own subscribers directly (see `NatsBus.publish`).
    noEcho: true,
  };
  if (options.name) connection.name = options.name;
  if (user !== undefined) {
    connection.user = user;
    connection.pass = pass;
  }
  return connect(connection);
}

/** The servers without their `user:password@`, and the first credentials found (nats.js takes them apart). */
export function credentialsOf(servers: readonly string[]): {
  servers: string[];
  user?: string;
  pass?: string;
} {
  let user: string | undefined;
  let pass: string | undefined;
  const bare = servers.map((server) => {
    const at = server.lastIndexOf('@');
    const scheme = server.indexOf('://');
    if (at < 0 || scheme < 0 || at < scheme) return server;
    const info = server.slice(scheme + 3, at);
    const colon = info.indexOf(':');
    if (user === undefined) {
      user = decodeURIComponent(colon < 0 ? info : info.slice(0, colon));
      pass = colon < 0 ? '' : decodeURIComponent(info.slice(colon + 1));
    }
    return server.slice(0, scheme + 3) + server.slice(at + 1);
  });
  return user === undefined ? { servers: bare } : { servers: bare, user, pass: pass ?? '' };
}

/**
 * {@link MarketBus} on NATS, between processes. Closed candles are stored in JetStream (`MD_KLINES`,
 * once each, in order: see `KlineWriter`) and then announced on their stream's live subject; open
 * candle updates, trades and status go on core subjects (`./nats-subjects.ts`).
 *
 * A subscription takes its streams' live subjects first, then (once the server has them) reads
 * the replay from the store: a closed candle is announced only after it is stored, so one the
 * replay does not find reaches the subscriber live. Replay and live are joined by sequence number
 * as on every bus. Live delivery is shared per stream in a process (`StreamChannel`): duplicates
 * from several producers are dropped, and closed candles that live delivery missed are read back
 * from the store before later ones go out.
 *
 * Within one process, a subscription sees everything published on the same bus before it (its
 * replay waits for the outbox): the contract suite runs on that.
 */
export class NatsBus implements MarketBus {
  readonly history: KlineHistory;
  private readonly writer: KlineWriter;
  private readonly publisher: NatsPublisher;
  private readonly channels = new Map<string, StreamChannel>();
  /** Per stream published or subscribed here: what this process's subscribers have had. */
  private readonly marks = new Map<string, StreamMark>();
  private readonly maxQueued: number;
  private readonly host: ChannelHost;
  private closed = false;
  private subscriptions = 0;

  private constructor(
    readonly connection: NatsConnection,
    readonly jsm: JetStreamManager,
    private readonly options: NatsBusOptions,
    private readonly ownsConnection: boolean,
  ) {
    const { venue, observer } = options;
    const js = jetstream(connection);
    this.history = new KlineHistory(js, jsm, {
      venue,
      onMalformed: (subject, reason) => observer?.malformed?.(subject, reason),
    });
    const writer = new KlineWriter(js, jsm, { venue, alive: () => !this.closed });
    this.writer = writer;
    this.publisher = new NatsPublisher(connection, writer, {
      venue,
      maxPending: options.maxPending,
      observer: {
        notStored: (event, outcome) => observer?.notStored?.(event, outcome),
        storeRetry: (err) => observer?.retrying?.('store', err),
        dropped: (type, count) => observer?.dropped?.(type, count),
      },
    });
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    const produced = new Set(options.produced ?? []);
    const bus = this;
    this.host = {
      nc: connection,
      venue,
      history: this.history,
      get isClosed() {
        return bus.closed;
      },
      tradeGapWaitMs: options.tradeGapWaitMs ?? 5_000,
      malformed: (subject, reason) => observer?.malformed?.(subject, reason),
      recovered: (stream, candles) => observer?.recovered?.(stream, candles),
      recoveryFailed: (_stream, err) => observer?.retrying?.('recovery', err),
      produces: (stream) => produced.has(stream),
      sourceAlive: options.sourceAlive ?? (() => false),
    };
    void this.watchConnection();
  }

  /**
   * A bus on an open connection (which stays the caller's to close). The connection must be made
   * with `noEcho` (as {@link connectNats} does): the bus gives its own events to its subscribers itself.
   */
  static async create(connection: NatsConnection, options: NatsBusOptions): Promise<NatsBus> {
    return NatsBus.start(connection, options, false);
  }

  /** Connects to NATS and starts a bus that owns the connection (`close` closes it). */
  static async connect(connect: NatsConnectOptions, options: NatsBusOptions): Promise<NatsBus> {
    return NatsBus.start(await connectNats(connect), options, true);
  }

  private static async start(nc: NatsConnection, options: NatsBusOptions, owns: boolean): Promise<NatsBus> {
    try {
      const jsm = await jetstreamManager(nc);
      const manage = options.manageStreams ?? 'update';
      if (manage !== 'none') await ensureStreams(jsm, options, { createOnly: manage === 'create' });
      return new NatsBus(nc, jsm, options, owns);
    } catch (err) {
      if (owns) await nc.close();
      throw err;
    }
  }

  get venue(): ExchangeId {
    return this.options.venue;
  }

  /** Open subscriptions. */
  get subscriberCount(): number {
    return this.subscriptions;
  }

  /** Streams this process takes live from NATS now (one set of NATS subscriptions each). */
  get liveStreams(): readonly string[] {
    return [...this.channels.keys()];
  }

  /** Events waiting to be published. */
  get pendingPublishes(): number {
    return this.publisher.pending;
  }

  get isConnected(): boolean {
    return !this.closed && !this.connection.isClosed() && this.connection.info !== undefined;
  }

  /**
   * Publishes to NATS (see `NatsPublisher`), and hands the event at once to this process's own
   * subscribers of its stream, as the in-process bus would: the connection does not echo it back.
   */
  publish(event: MarketEvent): void {
    if (this.closed) return;
    const { source } = this.options;
    if (source !== undefined && event.type === 'status' && event.status.source === undefined)
      event = { ...event, status: { ...event.status, source } };
    const channel = this.channels.get(event.stream);
    if (channel) channel.receive(event, true);
    else this.markOf(event.stream).accept(event);
    this.publisher.publish(event);
  }

  /**
   * Stores closed candles without announcing them (history a producer loaded, not news): those
   * newer than the newest stored of their stream are appended, the rest are already there or
   * older. After what was published before it is out, and beside the outbox, so that live events
   * (trades) do not wait for it; a producer publishes the stream's later closed candles once it
   * resolves. Rejects only when the bus closes.
   */
  async storeHistory(events: readonly CandleEvent[]): Promise<void> {
    await this.storeHistoryJoined(events, undefined);
  }

  /**
   * {@link storeHistory} for one stream's consecutive candles that must join the newest stored
   * candle `after` (read by the caller, null when there was none): resolves false, storing
   * nothing, when another producer stored on the stream since, and the caller joins again. With
   * `after` undefined, stores as `storeHistory`.
   */
  async storeHistoryJoined(
    events: readonly CandleEvent[],
    after: StoredCandle | null | undefined,
  ): Promise<boolean> {
    await this.publisher.drained();
    const onRetry = (err: unknown) => this.options.observer?.retrying?.('store', err);
    const outcomes =
      after === undefined
        ? await this.writer.store(events, onRetry)
        : await this.writer.storeJoined(
            events,
            after && { streamSeq: after.streamSeq, openTimeMs: after.candle.openTimeMs },
            onRetry,
          );
    if (!outcomes) return false;
    outcomes.forEach((outcome, i) => {
      if (outcome === 'refused') this.options.observer?.notStored?.(events[i] as CandleEvent, outcome);
    });
    return true;
  }

  /** Resolves once everything published so far is stored or sent (see `NatsPublisher.settled`). */
  flush(): Promise<void> {
    return this.publisher.settled();
  }

  subscribe(options: SubscribeOptions): Subscription {
    if (options.fromSeq !== undefined && options.sinceOpenTimeMs !== undefined)
      throw new RangeError('subscribe with fromSeq or sinceOpenTimeMs, not both');
    const streams = new Set(options.streams);
    for (const stream of streams)
      if (stream !== FEED_STREAM && !parseStreamName(stream))
        throw new RangeError(`${JSON.stringify(stream)} is not a stream name`);
    const subscription = new Subscription(
      streams,
      new Set(options.types ?? ALL_TYPES),
      options.maxQueued ?? this.maxQueued,
      (s) => this.detach(s),
      options.signal,
    );
    if (options.signal?.aborted || this.closed) {
      subscription.close();
      return subscription;
    }
    for (const stream of streams) {
      let channel = this.channels.get(stream);
      if (!channel) {
        channel = new StreamChannel(stream, this.markOf(stream), this.host);
        this.channels.set(stream, channel);
      }
      channel.attach(subscription);
    }
    this.subscriptions++;
    const starts = replayStarts(streams, options);
    for (const [stream, since] of starts) {
      const id = parseStreamName(stream);
      if (id?.kind === 'kline')
        subscription.startAfter(stream, candleSeq({ interval: id.interval, openTimeMs: since }));
    }
    if (subscription.wants('candle') && (starts.size > 0 || options.withOpenCandle)) {
      subscription.replayFrom(this.prepareReplay(streams, starts, options));
    }
    return subscription;
  }

  /**
   * Re-judges the merged feed status of every stream followed: a producer that stopped reporting
   * without a word (killed) leaves it, and subscribers get the `disconnected` it never sent when
   * no other producer is connected. Call it every second or so (a gateway does).
   */
  reviewSources(): void {
    for (const channel of this.channels.values()) channel.reviewStatus();
  }

  /** Ends every subscription (cleanly), stops publishing and, when it owns it, closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await withTimeout(this.publisher.settled(2_000), 5_000);
    } catch {
      // Closing anyway: what was not out is lost to this producer.
    }
    this.closed = true;
    for (const channel of this.channels.values()) {
      for (const subscription of [...channel.subscribers]) subscription.close();
      channel.close();
    }
    this.channels.clear();
    this.publisher.close();
    if (this.ownsConnection) {
      await this.connection.drain().catch(() => this.connection.close());
    }
  }

  private markOf(stream: string): StreamMark {
    let mark = this.marks.get(stream);
    if (!mark) {
      mark = new StreamMark();
      this.marks.set(stream, mark);
    }
    return mark;
  }

  private detach(subscription: Subscription): void {
    let found = false;
    for (const stream of subscription.streams) {
      const channel = this.channels.get(stream);
      if (!channel?.subscribers.has(subscription)) continue;
      found = true;
      if (!channel.detach(subscription)) {
        channel.close();
        this.channels.delete(stream);
      }
    }
    if (found) this.subscriptions--;
  }

  private async prepareReplay(
    streams: ReadonlySet<string>,
    starts: ReadonlyMap<string, number>,
    options: SubscribeOptions,
  ): Promise<MarketEvent[]> {
    // What this process published before subscribing is out, and the server has this
    // subscription's interest: from here on, every closed candle is either stored or still to be
    // announced to it.
    await this.publisher.settled();
    try {
      await this.connection.flush();
    } catch (err) {
      throw new HistoryUnavailable('the NATS connection was lost while the replay was prepared', {
        cause: err,
      });
    }
    const signal = options.signal;
    const closed: CandleEvent[] = [];
    for (const [stream, since] of starts) {
      for (const candle of await this.history.closedSince(stream, since, signal))
        closed.push(candleEvent(stream, candle));
    }
    if (starts.size > 1) closed.sort((a, b) => a.candle.openTimeMs - b.candle.openTimeMs);
    const out: MarketEvent[] = closed;
    if (options.withOpenCandle) {
      for (const stream of streams) {
        const open = await this.currentOpen(stream);
        if (open) out.push(open);
      }
    }
    return out;
  }

  /** The newest open candle known of `stream`: from the store, this process's feed or its own publishing. */
  private async currentOpen(stream: string): Promise<CandleEvent | null> {
    if (parseStreamName(stream)?.kind !== 'kline') return null;
    const candidates = [await this.history.latestState(stream), this.marks.get(stream)?.latest ?? null];
    let newest: CandleEvent | null = null;
    for (const c of candidates) if (c && (!newest || newer(c, newest))) newest = c;
    return newest && !newest.candle.closed ? newest : null;
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (this.closed) return;
      if (status.type === 'disconnect') {
        this.options.observer?.connection?.('disconnected');
        this.channels.get(FEED_STREAM)?.offerLocal(
          statusEvent(FEED_STREAM, {
            kind: 'disconnected',
            detail: 'market bus connection lost',
            timeMs: Date.now(),
          }),
        );
      } else if (status.type === 'reconnect') {
        this.writer.reconnected();
        this.options.observer?.connection?.('reconnected');
        this.channels.get(FEED_STREAM)?.offerLocal(
          statusEvent(FEED_STREAM, {
            kind: 'connected',
            detail: 'market bus connection restored',
            timeMs: Date.now(),
          }),
        );
        for (const channel of this.channels.values()) channel.reconnected();
      }
    }
  }
}

/** Whether candle state `a` is newer than `b` (same stream). */
function newer(a: CandleEvent, b: CandleEvent): boolean {
  if (a.seq !== b.seq) return a.seq > b.seq;
  if (a.candle.closed !== b.candle.closed) return a.candle.closed;
  if (a.candle.lastTradeId !== b.candle.lastTradeId) return a.candle.lastTradeId > b.candle.lastTradeId;
  return a.candle.eventTimeMs > b.candle.eventTimeMs;
}

/** Per kline stream asked to replay: the open time after which its replay starts. */
function replayStarts(streams: ReadonlySet<string>, options: SubscribeOptions): Map<string, number> {
  const starts = new Map<string, number>();
  const { fromSeq, sinceOpenTimeMs } = options;
  if (fromSeq === undefined && sinceOpenTimeMs === undefined) return starts;
  for (const stream of streams) {
    const id = parseStreamName(stream);
    if (id?.kind !== 'kline') continue;
    if (sinceOpenTimeMs !== undefined) {
      starts.set(stream, sinceOpenTimeMs);
      continue;
    }
    const seq = typeof fromSeq === 'number' ? fromSeq : fromSeq?.[stream];
    if (seq === undefined) continue;
    starts.set(stream, openTimeOfSeq(id.interval, seq) - 1);
  }
  return starts;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
