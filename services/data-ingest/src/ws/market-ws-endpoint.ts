import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type CandleEvent,
  follow,
  type MarketBus,
  type MarketEvent,
  StreamInterest,
  type TradeEvent,
} from '@visualgo/bus';
import { formatStreamName, parseStreamName } from '@visualgo/market';
import {
  createWsFanoutMetrics,
  type Logger,
  LogThrottle,
  SubscriberIndex,
  truncateInput,
  type WsConnection,
  WsFanout,
  type WsFanoutOptions,
  WsFrame,
  type WsUpgradeDecision,
} from '@visualgo/platform';
import { Counter, type Registry } from 'prom-client';
import type { IngestView } from '../hub/ingest-view.js';
import { binanceCombinedText, binanceEventText } from './binance-frames.js';
import {
  errorReply,
  type MethodError,
  type MethodRequest,
  parseMethodRequest,
  resultReply,
} from './binance-method.js';

/** Per-connection state. */
export interface MarketSession {
  /** Wrap payloads as `{"stream","data"}` (Binance's `combined` property). */
  combined: boolean;
  /** Seed-compatible bare `/ws`: every stream, including ones added later, until the first (UN)SUBSCRIBE. */
  firehose: boolean;
  readonly streams: Set<string>;
}

export type MarketWsOptions = Pick<
  WsFanoutOptions<MarketSession>,
  | 'maxBufferedBytes'
  | 'maxTotalBufferedBytes'
  | 'maxQueuedMessages'
  | 'maxPayloadBytes'
  | 'heartbeatIntervalMs'
  | 'inboundRateLimit'
  | 'allowedOrigins'
  | 'slowConsumerCloseGraceMs'
  | 'maxClients'
  | 'maxClientsPerAddress'
  | 'trustedProxies'
  | 'authorize'
> & {
  /** As on Binance; default 1024. */
  readonly maxStreamsPerConnection?: number;
};

/** What the WebSocket endpoints need to know of ingestion: the streams it serves. */
export type MarketStreams = Pick<IngestView, 'streams' | 'hasStream' | 'onStream'>;

export interface MarketWsEndpointOptions {
  /**
   * The events to serve. Unset: the owner hands them over rendered (`publishRaw`), as a worker
   * process fed by the front of the edge does.
   */
  readonly bus?: MarketBus;
  readonly view: MarketStreams;
  readonly logger: Logger;
  readonly metrics: Registry;
  /**
   * Follow on the bus only the streams some client wants, each while it is wanted (a gateway in
   * front of NATS, serving a few of many streams); default: follow every stream served, once.
   */
  readonly followOnDemand?: boolean;
  readonly ws?: MarketWsOptions;
}

type Client = WsConnection<MarketSession>;

const CONNECTION_LABEL = /^[A-Za-z0-9_-]{1,32}$/;
type StreamCheck =
  | { readonly ok: true; readonly streams: readonly string[] }
  | { readonly ok: false; readonly msg: string };

/**
 * The Binance-compatible WebSocket endpoints:
 * - `/ws`: seed-compatible, every event of every stream, raw Binance payloads;
 * - `/ws/<stream>[/<stream>...]`: raw payloads of those streams;
 * - `/stream?streams=a/b`: `{"stream","data"}` frames;
 * and on every connection the `SUBSCRIBE`/`UNSUBSCRIBE`/`LIST_SUBSCRIPTIONS`/`SET_PROPERTY`/
 * `GET_PROPERTY` methods. The endpoint follows the bus with one subscription for every client; each
 * event is rendered in Binance's wire form from the neutral event once per form (raw, combined),
 * encoded once, and handed to its subscribers only.
 */
export class MarketWsEndpoint {
  private readonly view: MarketStreams;
  private readonly router: MarketWsRouter;
  private readonly fanout: WsFanout<MarketSession>;
  private readonly raw = new SubscriberIndex<Client>();
  private readonly combined = new SubscriberIndex<Client>();
  private readonly firehoseRaw = new Set<Client>();
  private readonly firehoseCombined = new Set<Client>();
  private readonly streamMessagesOut: Counter<'stream'>;
  private readonly streamCounters = new Map<string, { inc(n: number): void }>();
  private readonly following = new AbortController();
  private readonly interest: StreamInterest | null = null;
  private readonly stopListing: (() => void) | null = null;
  /** On demand: the streams each client holds interest in. */
  private readonly wanted = new WeakMap<Client, Set<string>>();
  private readonly clientErrors: Counter<'code'>;
  private readonly log: Logger;
  private readonly throttle = new LogThrottle();

  constructor(options: MarketWsEndpointOptions) {
    this.view = options.view;
    const { maxStreamsPerConnection, ...fanoutOptions } = options.ws ?? {};
    this.router = new MarketWsRouter(options.view, maxStreamsPerConnection);
    this.streamMessagesOut = new Counter({
      name: 'ingest_ws_stream_messages_out_total',
      help: 'WebSocket messages queued to clients, by stream.',
      labelNames: ['stream'],
      registers: [options.metrics],
    });
    this.clientErrors = new Counter({
      name: 'ingest_ws_client_errors_total',
      help: 'WebSocket client messages answered with an error, by Binance error code name.',
      labelNames: ['code'],
      registers: [options.metrics],
    });
    this.log = options.logger;
    this.fanout = new WsFanout<MarketSession>({
      ...fanoutOptions,
      logger: options.logger,
      metrics: createWsFanoutMetrics(options.metrics, 'ingest_ws'),
      onOpen: (client) => {
        this.index(client, client.state.streams, true);
        this.syncInterest(client);
      },
      onMessage: (client, text) => this.onMessage(client, text),
      onClose: (client) => {
        this.index(client, client.state.streams, false);
        this.syncInterest(client, true);
      },
    });
    const following = {
      types: ['candle', 'trade'] as const,
      // One subscription (per stream, on demand) carries every client: it only falls behind when
      // the whole process does.
      maxQueued: 100_000,
      onCutOff: () => {
        // Clients missed events: make them reconnect rather than serve them a hole.
        this.log.error(
          { clients: this.fanout.size },
          'websocket edge fell behind the bus, closing its clients',
        );
        for (const client of this.fanout.clients()) client.close(1013, 'server fell behind; reconnect');
      },
      onError: (err: unknown) => this.log.error({ err }, 'websocket edge stopped following the bus'),
    };
    const handle = (event: MarketEvent) => {
      if (event.type !== 'status') this.publish(event);
    };
    if (!options.bus) return;
    if (options.followOnDemand) {
      this.interest = new StreamInterest(options.bus, following, handle);
      // A firehose client wants every stream served, also those listed after it connected.
      this.stopListing =
        this.view.onStream?.(() => {
          for (const client of [...this.firehoseRaw, ...this.firehoseCombined]) this.syncInterest(client);
        }) ?? null;
    } else {
      const streams = this.view.streams().map(formatStreamName);
      void follow(options.bus, { ...following, streams, signal: this.following.signal }, handle);
    }
  }

  /** Streams followed on the bus now (all served ones unless following on demand). */
  get followedStreams(): readonly string[] {
    return this.interest ? this.interest.streams : this.view.streams().map(formatStreamName);
  }

  /**
   * On demand: brings what the bus follows for this client in line with what it wants now (a
   * firehose client wants every stream served), taking new streams before letting go of old ones.
   */
  private syncInterest(client: Client, closing = false): void {
    const interest = this.interest;
    if (!interest) return;
    const before = this.wanted.get(client) ?? new Set<string>();
    const session = client.state;
    const now = closing
      ? new Set<string>()
      : session.firehose
        ? new Set(this.view.streams().map(formatStreamName))
        : new Set(session.streams);
    interest.acquire([...now].filter((s) => !before.has(s)));
    interest.release([...before].filter((s) => !now.has(s)));
    if (closing) this.wanted.delete(client);
    else this.wanted.set(client, now);
  }

  get clientCount(): number {
    return this.fanout.size;
  }

  /** Handles `/ws`, `/ws/...` and `/stream`; returns false for other paths, which the caller answers. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
    const decide = this.router.decideFor(url);
    if (!decide) return false;
    this.fanout.handleUpgrade(req, socket, head, decide);
    return true;
  }

  /** Serves a client admitted by the front of the edge, with the session it decided (see `WsFanout.adopt`). */
  adopt(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    session: MarketSessionWire,
    address: string,
  ): void {
    this.fanout.adopt(req, socket, head, sessionFromWire(session), address);
  }

  /**
   * Serves one event handed over already rendered: `raw` is Binance's event JSON for `stream`
   * (what `binanceEventText` renders); the combined form is built around it as Binance frames it.
   */
  publishRaw(stream: string, raw: Buffer): void {
    this.deliver(
      stream,
      () => raw,
      () => Buffer.concat([Buffer.from(`{"stream":${JSON.stringify(stream)},"data":`), raw, CLOSE_BRACE]),
    );
  }

  /** Closes every client with `code` (for instance 1013 when this process fell behind its feed). */
  disconnectAll(code: number, reason: string): void {
    for (const client of this.fanout.clients()) client.close(code, reason);
  }

  /** Sends 1001 to every client and stops publishing; bounded by `timeoutMs`. */
  async close(timeoutMs = 2_000, code = 1001, reason = 'server shutting down'): Promise<void> {
    this.following.abort();
    this.stopListing?.();
    this.interest?.close();
    await this.fanout.closeAll(code, reason, timeoutMs);
  }

  private publish(event: CandleEvent | TradeEvent): void {
    this.deliver(
      event.stream,
      () => binanceEventText.of(event),
      () => binanceCombinedText.of(event),
    );
  }

  /** Hands one event to its subscribers, rendering each form only when someone wants it. */
  private deliver(stream: string, raw: () => string | Buffer, combined: () => string | Buffer): void {
    const rawClients = this.raw.get(stream);
    const combinedClients = this.combined.get(stream);
    let sent = 0;
    if (rawClients.size + this.firehoseRaw.size > 0) {
      const frame = WsFrame.text(raw());
      sent += this.fanout.broadcast(rawClients, frame);
      sent += this.fanout.broadcast(this.firehoseRaw, frame);
    }
    if (combinedClients.size + this.firehoseCombined.size > 0) {
      const frame = WsFrame.text(combined());
      sent += this.fanout.broadcast(combinedClients, frame);
      sent += this.fanout.broadcast(this.firehoseCombined, frame);
    }
    if (sent > 0) this.streamCounter(stream).inc(sent);
  }

  private streamCounter(stream: string): { inc(n: number): void } {
    let counter = this.streamCounters.get(stream);
    if (!counter) {
      counter = this.streamMessagesOut.labels(stream);
      this.streamCounters.set(stream, counter);
    }
    return counter;
  }

  /** Adds a client's streams (or its firehose membership) to the indexes, or removes them. */
  private index(client: Client, streams: Iterable<string>, add: boolean): void {
    const session = client.state;
    if (session.firehose) {
      const set = session.combined ? this.firehoseCombined : this.firehoseRaw;
      if (add) set.add(client);
      else set.delete(client);
      return;
    }
    const index = session.combined ? this.combined : this.raw;
    for (const stream of streams) {
      if (add) index.add(stream, client);
      else index.delete(stream, client);
    }
  }

  private onMessage(client: Client, text: string): void {
    const parsed = parseMethodRequest(text);
    if (!parsed.ok) {
      this.refuse(client, parsed.error, text);
      return;
    }
    const reply = this.execute(client, parsed.request);
    this.syncInterest(client);
    if (typeof reply === 'string') this.fanout.send(client, reply);
    else this.refuse(client, reply, text);
  }

  /** Answers a bad message with Binance's error reply, counts it, and logs a sample (rate-limited). */
  private refuse(client: Client, error: MethodError, text: string): void {
    const code = ERROR_CODE_NAMES[error.code];
    this.clientErrors.inc({ code });
    const suppressed = this.throttle.take(code);
    if (suppressed !== null) {
      this.log.warn(
        {
          client: client.id,
          remoteAddress: client.remoteAddress,
          code,
          error: error.msg,
          sample: truncateInput(text, 200),
          bytes: Buffer.byteLength(text),
          suppressed,
        },
        'bad websocket client message',
      );
    }
    this.fanout.send(client, errorReply(error));
  }

  /** The reply to send, or the error to refuse the request with. */
  private execute(client: Client, request: MethodRequest): string | MethodError {
    const session = client.state;
    switch (request.method) {
      case 'SUBSCRIBE': {
        const check = this.router.checkStreams(request.streams);
        if (!check.ok) return { code: 2, msg: check.msg, id: request.id };
        // A Binance client on bare `/ws` subscribes first; from then on it gets exactly what it asked for.
        const base = session.firehose ? [] : [...session.streams];
        if (new Set([...base, ...check.streams]).size > this.router.maxStreams) {
          return { code: 2, msg: this.router.tooManyMsg(), id: request.id };
        }
        this.leaveFirehose(client, []);
        const added = check.streams.filter((s) => !session.streams.has(s));
        for (const s of added) session.streams.add(s);
        this.index(client, added, true);
        return resultReply(null, request.id);
      }
      case 'UNSUBSCRIBE': {
        const streams: string[] = [];
        for (const name of request.streams) {
          const stream = canonicalStream(name);
          if (stream === null)
            return {
              code: 2,
              msg: `Invalid request: invalid stream '${truncateInput(name)}'`,
              id: request.id,
            };
          streams.push(stream);
        }
        this.leaveFirehose(client, this.view.streams().map(formatStreamName));
        const removed = streams.filter((s) => session.streams.delete(s));
        this.index(client, removed, false);
        return resultReply(null, request.id);
      }
      case 'LIST_SUBSCRIPTIONS':
        return resultReply(this.subscriptions(session), request.id);
      case 'SET_PROPERTY':
        this.setCombined(client, request.value);
        return resultReply(null, request.id);
      case 'GET_PROPERTY':
        return resultReply(session.combined, request.id);
    }
  }

  private subscriptions(session: MarketSession): readonly string[] {
    return session.firehose ? this.view.streams().map(formatStreamName) : [...session.streams];
  }

  /** Turns a firehose client into one subscribed to `streams` explicitly; no-op otherwise. */
  private leaveFirehose(client: Client, streams: readonly string[]): void {
    const session = client.state;
    if (!session.firehose) return;
    this.index(client, [], false);
    session.firehose = false;
    for (const s of streams) session.streams.add(s);
    this.index(client, session.streams, true);
  }

  private setCombined(client: Client, combined: boolean): void {
    const session = client.state;
    if (session.combined === combined) return;
    this.index(client, session.streams, false);
    session.combined = combined;
    this.index(client, session.streams, true);
  }
}

/**
 * Which WebSocket paths exist and what a client asks for: decides an upgrade (`/ws`, `/ws/<streams>`,
 * `/stream?streams=`) and checks stream lists against what is served. Shared by the in-process
 * endpoint and the front of an edge served by worker processes.
 */
export class MarketWsRouter {
  readonly maxStreams: number;

  constructor(
    private readonly view: MarketStreams,
    maxStreamsPerConnection = 1024,
  ) {
    this.maxStreams = maxStreamsPerConnection;
  }

  /** The decision for an upgrade to `url`, or undefined when no endpoint has that path. */
  decideFor(url: URL): (() => WsUpgradeDecision<MarketSession>) | undefined {
    const path = url.pathname;
    if (path === '/ws' || path === '/ws/') {
      return () => accept({ combined: false, firehose: true, streams: new Set() });
    }
    if (path.startsWith('/ws/')) return () => this.decide(path.slice('/ws/'.length), false);
    if (path === '/stream' || path === '/stream/') {
      return () => this.decide(url.searchParams.get('streams') ?? '', true);
    }
    return undefined;
  }

  private decide(list: string, combined: boolean): WsUpgradeDecision<MarketSession> {
    let names: string[];
    try {
      names = list
        .split('/')
        .filter((s) => s !== '')
        .map(decodeURIComponent)
        // A raw-path segment that is no stream name at all (`/ws/0`, how ccxt numbers its
        // connections) is accepted and carries nothing, as on Binance; a misspelt stream fails.
        .filter((s) => combined || s.includes('@') || !CONNECTION_LABEL.test(s));
    } catch {
      names = [list];
    }
    const check = this.checkStreams(names);
    if (!check.ok) {
      // Refusing the handshake makes a misspelt stream fail loudly at connect time.
      return {
        accept: false,
        status: 400,
        body: errorReply({ code: 2, msg: check.msg, id: null }),
        contentType: JSON_TYPE,
      };
    }
    if (check.streams.length > this.maxStreams) {
      return {
        accept: false,
        status: 400,
        body: errorReply({ code: 2, msg: this.tooManyMsg(), id: null }),
        contentType: JSON_TYPE,
      };
    }
    return accept({ combined, firehose: false, streams: new Set(check.streams) });
  }

  checkStreams(names: readonly string[]): StreamCheck {
    const streams: string[] = [];
    for (const name of names) {
      const stream = canonicalStream(name);
      if (stream === null)
        return { ok: false, msg: `Invalid request: invalid stream '${truncateInput(name)}'` };
      if (!this.view.hasStream(stream)) {
        return {
          ok: false,
          msg: `Invalid request: unknown stream '${truncateInput(stream)}', not ingested by this service`,
        };
      }
      streams.push(stream);
    }
    return { ok: true, streams };
  }

  tooManyMsg(): string {
    return `Invalid request: too many streams, at most ${this.maxStreams} per connection`;
  }
}

/** A session as sent to a worker process (JSON). */
export interface MarketSessionWire {
  readonly combined: boolean;
  readonly firehose: boolean;
  readonly streams: readonly string[];
}

export function sessionToWire(session: MarketSession): MarketSessionWire {
  return { combined: session.combined, firehose: session.firehose, streams: [...session.streams] };
}

export function sessionFromWire(wire: MarketSessionWire): MarketSession {
  return { combined: wire.combined, firehose: wire.firehose, streams: new Set(wire.streams) };
}

const CLOSE_BRACE = Buffer.from('}');

const JSON_TYPE = 'application/json; charset=utf-8';

/** Binance's method error codes, as metric labels. */
const ERROR_CODE_NAMES: Record<MethodError['code'], string> = {
  0: 'unknown_property',
  1: 'invalid_value_type',
  2: 'invalid_request',
  3: 'invalid_json',
};

function accept(state: MarketSession): WsUpgradeDecision<MarketSession> {
  return { accept: true, state };
}

/** Binance stream names have a lower-case symbol; accept any case there and return the canonical name. */
export function canonicalStream(name: string): string | null {
  const at = name.indexOf('@');
  if (at <= 0) return null;
  const id = parseStreamName(name.slice(0, at).toLowerCase() + name.slice(at));
  return id ? formatStreamName(id) : null;
}
