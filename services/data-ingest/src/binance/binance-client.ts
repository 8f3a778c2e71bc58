import { formatStreamName, parseStreamName } from '@visualgo/market';
import { Backoff, type Logger, LogThrottle, truncateInput } from '@visualgo/platform';
import type {
  BinanceStreamClientEvents,
  BinanceStreamClientOptions,
  BinanceStreamStats,
} from './binance-client-types.js';
import {
  BinanceConnection,
  type ConnectionCallbacks,
  type DataFrame,
  type MethodFailure,
} from './binance-connection.js';
import { klineEventToCandle, tradeEventToTrade } from './binance-mapper.js';

export type {
  AggTradeUpdate,
  BinanceStreamClientEvents,
  BinanceStreamClientOptions,
  BinanceStreamStats,
  ConnectedEvent,
  DisconnectedEvent,
  KlineUpdate,
  MalformedEvent,
  TradeUpdate,
} from './binance-client-types.js';

/** Streams sharing one connection and its lifecycle. */
interface Shard {
  readonly streams: Set<string>;
  readonly backoff: Backoff;
  active: BinanceConnection | undefined;
  /** Replacement being brought up during a planned switch. */
  next: BinanceConnection | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  ageTimer: NodeJS.Timeout | undefined;
  switchTimer: NodeJS.Timeout | undefined;
  switchReason: string | undefined;
  /** The next attempt already waited for its slot from the connection pacer. */
  pacedSlot: boolean;
}

const BINANCE_MAX_STREAMS = 1024;
const SEND_JITTER_MARGIN_MS = 15;

type Listener<K extends keyof BinanceStreamClientEvents> = (event: BinanceStreamClientEvents[K]) => void;

export class BinanceStreamClient {
  private readonly options: BinanceStreamClientOptions;
  private readonly maxStreams: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly throttle: LogThrottle;
  private readonly listeners = new Map<keyof BinanceStreamClientEvents, Set<(event: never) => void>>();
  private readonly shards: Shard[] = [];
  private readonly streamShard = new Map<string, Shard>();
  private readonly counters = {
    reconnects: 0,
    connectFailures: 0,
    switchovers: 0,
    staleDisconnects: 0,
    malformed: 0,
    methodErrors: 0,
  };
  private readonly messages = new Map<string, number>();
  private connectionSeq = 0;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private detachSignal: (() => void) | undefined;

  constructor(options: BinanceStreamClientOptions) {
    this.options = options;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.maxStreams = options.maxStreamsPerConnection ?? 200;
    if (!Number.isInteger(this.maxStreams) || this.maxStreams < 1 || this.maxStreams > BINANCE_MAX_STREAMS) {
      throw new RangeError(`maxStreamsPerConnection must be an integer in 1..${BINANCE_MAX_STREAMS}`);
    }
    const rate = options.maxMessagesPerSecond ?? 4;
    if (!(rate > 0 && rate <= 5)) throw new RangeError('maxMessagesPerSecond must be in (0, 5]');
    const protocol = new URL(options.wsBaseUrl).protocol;
    if (protocol !== 'ws:' && protocol !== 'wss:')
      throw new RangeError('wsBaseUrl must be a ws: or wss: URL');
    this.throttle = new LogThrottle(5, 10_000, this.now);
    this.addStreams(options.streams);
  }

  on<K extends keyof BinanceStreamClientEvents>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /** Opens one connection per shard. Aborting `signal` stops the client. */
  start(signal?: AbortSignal): void {
    if (this.state === 'stopped') throw new Error('BinanceStreamClient cannot be restarted after stop()');
    if (this.state === 'running') return;
    this.state = 'running';
    if (signal) {
      const onAbort = () => void this.stop();
      signal.addEventListener('abort', onAbort, { once: true });
      this.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    for (const shard of this.shards) this.connect(shard);
  }

  /** Closes every connection and clears every timer; resolves once all sockets are closed. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.detachSignal?.();
    const closing: Promise<void>[] = [];
    for (const shard of this.shards) closing.push(...this.retireShard(shard, 'stopped'));
    await Promise.all(closing);
  }

  /** Streams currently assigned, in shard order. */
  streams(): readonly string[] {
    return this.shards.flatMap((s) => [...s.streams]);
  }

  /**
   * Adds streams, filling existing connections below maxStreamsPerConnection (live SUBSCRIBE,
   * paced) and opening new ones for the rest. Returns the streams that were not already present.
   * Throws RangeError, before changing anything, for a name that is not a canonical kline, trade
   * or aggTrade stream.
   */
  addStreams(streams: readonly string[]): readonly string[] {
    for (const name of streams) {
      const id = parseStreamName(name);
      if (!id || formatStreamName(id) !== name)
        throw new RangeError(`not a supported Binance stream: ${name}`);
    }
    const added = [...new Set(streams)].filter((s) => !this.streamShard.has(s));
    const touched = new Set<Shard>();
    const created = new Set<Shard>();
    for (const stream of added) {
      let shard = this.shards.find((s) => s.streams.size < this.maxStreams);
      if (!shard) {
        shard = this.newShard();
        created.add(shard);
      }
      shard.streams.add(stream);
      this.streamShard.set(stream, shard);
      touched.add(shard);
    }
    for (const shard of touched) {
      if (created.has(shard)) {
        if (this.state === 'running') this.connect(shard);
      } else {
        this.reconcile(shard);
      }
    }
    return added;
  }

  /** Removes streams (live UNSUBSCRIBE); a connection left without streams is closed. */
  removeStreams(streams: readonly string[]): readonly string[] {
    const removed: string[] = [];
    const touched = new Set<Shard>();
    for (const stream of new Set(streams)) {
      const shard = this.streamShard.get(stream);
      if (!shard) continue;
      shard.streams.delete(stream);
      this.streamShard.delete(stream);
      touched.add(shard);
      removed.push(stream);
    }
    for (const shard of touched) {
      if (shard.streams.size > 0) {
        this.reconcile(shard);
        continue;
      }
      this.shards.splice(this.shards.indexOf(shard), 1);
      this.retireShard(shard, 'streams removed');
    }
    return removed;
  }

  stats(): BinanceStreamStats {
    let open = 0;
    for (const shard of this.shards) {
      if (shard.active?.state === 'open') open++;
      if (shard.next?.state === 'open') open++;
    }
    return { ...this.counters, messagesByStream: Object.fromEntries(this.messages), openConnections: open };
  }

  private emit<K extends keyof BinanceStreamClientEvents>(
    event: K,
    payload: BinanceStreamClientEvents[K],
  ): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<K>)(payload);
      } catch (error) {
        // A failing consumer must not break the socket loop or the other consumers.
        if (this.throttle.take('listener') !== null)
          this.logger.error({ err: error, event }, 'stream listener threw');
      }
    }
  }

  private newShard(): Shard {
    const shard: Shard = {
      streams: new Set(),
      backoff: new Backoff(this.options.backoff),
      active: undefined,
      next: undefined,
      retryTimer: undefined,
      ageTimer: undefined,
      switchTimer: undefined,
      switchReason: undefined,
      pacedSlot: false,
    };
    this.shards.push(shard);
    return shard;
  }

  private reconcile(shard: Shard): void {
    for (const connection of [shard.active, shard.next]) {
      if (connection?.state === 'open') connection.reconcile(shard.streams);
    }
  }

  private clearTimers(shard: Shard): void {
    clearTimeout(shard.retryTimer);
    clearTimeout(shard.ageTimer);
    clearTimeout(shard.switchTimer);
    shard.retryTimer = shard.ageTimer = shard.switchTimer = undefined;
  }

  /** Stops a shard's timers and closes its connections; returns their close promises. */
  private retireShard(shard: Shard, reason: string): Promise<void>[] {
    this.clearTimers(shard);
    const closing: Promise<void>[] = [];
    for (const connection of [shard.active, shard.next]) {
      if (!connection) continue;
      connection.planned = true;
      connection.close(reason);
      closing.push(connection.closed);
    }
    shard.active = shard.next = undefined;
    return closing;
  }

  private open(shard: Shard): BinanceConnection | undefined {
    const id = `binance-${++this.connectionSeq}`;
    try {
      return new BinanceConnection({
        id,
        wsBaseUrl: this.options.wsBaseUrl,
        streams: shard.streams,
        // A few ms above the exact spacing: timer and network jitter must not land two sends
        // closer together at the exchange than its limit allows.
        minSendIntervalMs: Math.ceil(1000 / (this.options.maxMessagesPerSecond ?? 4)) + SEND_JITTER_MARGIN_MS,
        staleAfterMs: this.options.staleAfterMs ?? 30_000,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 10_000,
        closeTimeoutMs: this.options.closeTimeoutMs ?? 1000,
        methodTimeoutMs: this.options.methodTimeoutMs ?? 10_000,
        logger: this.logger,
        now: this.now,
        callbacks: this.callbacks(shard),
      });
    } catch (error) {
      this.counters.connectFailures++;
      this.logger.error({ err: error, connectionId: id }, 'stream connection could not be created');
      return undefined;
    }
  }

  private connect(shard: Shard): void {
    if (this.paced(shard, () => this.connect(shard))) return;
    shard.active = this.open(shard);
    if (!shard.active) this.scheduleReconnect(shard);
  }

  /**
   * When the pacer puts this attempt later, schedules `attempt` for then (as the shard's retry)
   * and returns true; the attempt then runs unpaced.
   */
  private paced(shard: Shard, attempt: () => void): boolean {
    const pacer = this.options.connectPacer;
    if (!pacer || shard.pacedSlot) {
      shard.pacedSlot = false;
      return false;
    }
    const waitMs = pacer.reserve();
    if (waitMs <= 0) return false;
    this.logger.info({ waitMs, streams: shard.streams.size }, 'stream connection attempt paced');
    clearTimeout(shard.retryTimer);
    shard.retryTimer = setTimeout(() => {
      shard.retryTimer = undefined;
      if (this.state !== 'running' || !this.shards.includes(shard)) return;
      shard.pacedSlot = true;
      // A switch-over whose connection dropped while it waited becomes a plain reconnect.
      if (shard.active) attempt();
      else this.connect(shard);
    }, waitMs);
    return true;
  }

  private scheduleReconnect(shard: Shard): void {
    if (this.state !== 'running' || shard.retryTimer || !this.shards.includes(shard)) return;
    const delayMs = shard.backoff.next();
    this.counters.reconnects++;
    this.logger.info(
      { delayMs, attempt: shard.backoff.attempts, streams: shard.streams.size },
      'stream reconnect scheduled',
    );
    shard.retryTimer = setTimeout(() => {
      shard.retryTimer = undefined;
      if (this.state === 'running' && !shard.active && this.shards.includes(shard)) this.connect(shard);
    }, delayMs);
  }

  /** Make-before-break: bring up a replacement with the same streams while the old one still delivers. */
  private beginSwitch(shard: Shard, reason: string): void {
    if (this.state !== 'running' || shard.next || !shard.active) return;
    if (this.paced(shard, () => this.beginSwitch(shard, reason))) return;
    this.logger.info({ connectionId: shard.active.id, reason }, 'stream switch-over started');
    shard.switchReason = reason;
    shard.next = this.open(shard);
    if (!shard.next) this.retrySwitchLater(shard);
  }

  private retrySwitchLater(shard: Shard): void {
    clearTimeout(shard.switchTimer);
    const reason = shard.switchReason ?? 'switch retry';
    shard.switchTimer = setTimeout(() => {
      shard.switchTimer = undefined;
      this.beginSwitch(shard, reason);
    }, shard.backoff.next());
  }

  /** The replacement takes over; the old connection is closed gracefully, draining in-flight frames. */
  private promote(shard: Shard): void {
    const next = shard.next;
    if (!next) return;
    const old = shard.active;
    clearTimeout(shard.switchTimer);
    clearTimeout(shard.ageTimer);
    shard.switchTimer = shard.ageTimer = undefined;
    shard.active = next;
    shard.next = undefined;
    this.counters.switchovers++;
    shard.backoff.reset();
    if (next.state === 'open') this.armAgeTimer(shard, next);
    if (old) {
      old.planned = true;
      old.close(shard.switchReason ?? 'switched');
    }
    shard.switchReason = undefined;
    this.logger.info({ from: old?.id, to: next.id }, 'stream switch-over complete');
    if (next.shutdownPending) this.beginSwitch(shard, 'server shutdown');
  }

  private armAgeTimer(shard: Shard, connection: BinanceConnection): void {
    clearTimeout(shard.ageTimer);
    const index = this.shards.indexOf(shard);
    const ageMs =
      this.options.connectionAgeMsOf?.(index) ?? this.options.maxConnectionAgeMs ?? 23 * 60 * 60 * 1000;
    shard.ageTimer = setTimeout(() => {
      shard.ageTimer = undefined;
      if (shard.active === connection) this.beginSwitch(shard, 'maximum connection age');
    }, ageMs);
  }

  private callbacks(shard: Shard): ConnectionCallbacks {
    return {
      onOpen: (connection) => {
        if (connection !== shard.active && connection !== shard.next) {
          connection.planned = true;
          connection.close('superseded');
          return;
        }
        connection.reconcile(shard.streams);
        this.logger.info({ connectionId: connection.id, streams: shard.streams.size }, 'stream connected');
        this.emit('connected', { connectionId: connection.id, streams: [...shard.streams] });
        if (connection === shard.active) {
          this.armAgeTimer(shard, connection);
        } else {
          clearTimeout(shard.switchTimer);
          shard.switchTimer = setTimeout(
            () => this.promote(shard),
            this.options.switchoverTimeoutMs ?? 10_000,
          );
        }
      },
      onData: (connection, frame, receivedTimeMs) => {
        this.deliver(connection, frame, receivedTimeMs);
        if (connection === shard.next) this.promote(shard);
      },
      onShutdown: (connection) => {
        this.logger.warn({ connectionId: connection.id }, 'stream server shutdown announced');
        if (connection === shard.active) this.beginSwitch(shard, 'server shutdown');
        else if (connection === shard.next) connection.shutdownPending = true;
      },
      onStale: (connection) => {
        this.counters.staleDisconnects++;
        this.logger.warn(
          { connectionId: connection.id, silentMs: this.now() - connection.lastDataAtMs },
          'stream stale',
        );
        connection.terminate('stale: no data');
      },
      onMalformed: (connection, reason) => this.malformed(connection.id, reason),
      onMethodError: (connection, failure) => this.methodError(connection, failure),
      onClose: (connection, reason) => this.closed(shard, connection, reason),
    };
  }

  private closed(shard: Shard, connection: BinanceConnection, reason: string): void {
    const wasOpen = connection.openedAtMs !== undefined;
    if (wasOpen) {
      const log = connection.planned
        ? this.logger.info.bind(this.logger)
        : this.logger.warn.bind(this.logger);
      log({ connectionId: connection.id, reason, planned: connection.planned }, 'stream disconnected');
      this.emit('disconnected', {
        connectionId: connection.id,
        streams: [...connection.subscribed],
        reason,
        planned: connection.planned,
      });
    } else if (!connection.planned) {
      this.counters.connectFailures++;
      if (this.throttle.take('connect-failed') !== null) {
        this.logger.warn({ connectionId: connection.id, reason }, 'stream connection failed');
      }
    }
    if (this.state !== 'running') return;
    const healthy =
      wasOpen &&
      connection.dataFrames > 0 &&
      this.now() - (connection.openedAtMs ?? 0) >= (this.options.healthyAfterMs ?? 10_000);
    if (healthy) shard.backoff.reset();
    if (connection === shard.active) {
      shard.active = undefined;
      clearTimeout(shard.ageTimer);
      shard.ageTimer = undefined;
      if (shard.next) this.promote(shard);
      else this.scheduleReconnect(shard);
    } else if (connection === shard.next) {
      shard.next = undefined;
      clearTimeout(shard.switchTimer);
      shard.switchTimer = undefined;
      if (shard.active) this.retrySwitchLater(shard);
      else this.scheduleReconnect(shard);
    }
  }

  private deliver(connection: BinanceConnection, frame: DataFrame, receivedTimeMs: number): void {
    // Late frames of an unsubscribed stream are dropped; they still proved the connection alive.
    if (!this.streamShard.has(frame.stream)) return;
    this.messages.set(frame.stream, (this.messages.get(frame.stream) ?? 0) + 1);
    const connectionId = connection.id;
    switch (frame.type) {
      case 'kline': {
        const candle = klineEventToCandle(frame.payload, this.options.exchange, receivedTimeMs);
        if (!candle.ok) {
          this.malformed(connectionId, `${frame.stream}: ${candle.reason}`);
          return;
        }
        this.emit('kline', { stream: frame.stream, candle: candle.value, connectionId });
        return;
      }
      case 'trade': {
        const trade = tradeEventToTrade(frame.payload, this.options.exchange, receivedTimeMs);
        if (!trade.ok) {
          this.malformed(connectionId, `${frame.stream}: ${trade.reason}`);
          return;
        }
        this.emit('trade', { stream: frame.stream, trade: trade.value, connectionId });
        return;
      }
      case 'aggTrade':
        this.emit('aggTrade', { stream: frame.stream, payload: frame.payload, connectionId });
        return;
    }
  }

  private malformed(connectionId: string, raw: string): void {
    // Reasons quote parts of the frame (an event type, a stream name): keep them log-sized.
    const reason = truncateInput(raw, 200);
    this.counters.malformed++;
    const suppressed = this.throttle.take('malformed');
    if (suppressed !== null)
      this.logger.warn({ connectionId, reason, suppressed }, 'malformed stream frame dropped');
    this.emit('malformed', { connectionId, reason });
  }

  private methodError(connection: BinanceConnection, failure: MethodFailure): void {
    this.counters.methodErrors++;
    const suppressed = this.throttle.take('method-error');
    if (suppressed !== null) {
      this.logger.warn(
        {
          connectionId: connection.id,
          method: failure.method,
          streams: failure.params,
          code: failure.code,
          msg: failure.msg,
          suppressed,
        },
        'stream request failed',
      );
    }
  }
}
