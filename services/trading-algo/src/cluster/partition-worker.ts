import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { type Msg, type NatsConnection, nanos, type Subscription } from '@nats-io/nats-core';
import { type CandleEvent, candleSeq, ReplayOutOfRange } from '@visualgo/bus';
import { decodeEvent, KLINE_STREAM, type KlineHistory } from '@visualgo/bus/nats';
import type { Candle, ExchangeId } from '@visualgo/market';
import { type Logger, LogThrottle } from '@visualgo/platform';
import type { IndicatorEngine, StreamInfo } from '../engine/indicator-engine.js';
import type { AlgoOutputPublisher } from './algo-output.js';
import type { IndicatorSnapshots } from './indicator-snapshots.js';

export interface PartitionWorkerDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly venue: ExchangeId;
  readonly history: KlineHistory;
  readonly engine: IndicatorEngine;
  readonly output: AlgoOutputPublisher;
  readonly snapshots: IndicatorSnapshots;
  readonly snapshotMs: number;
  /** How long a delivered candle may go unacknowledged before it is delivered again. */
  readonly ackWaitMs: number;
  readonly logger: Logger;
  /** Whether this worker serves a stream it finds in its partition (ALGO_STREAMS). */
  readonly serves: (stream: string) => boolean;
  readonly counters: WorkerCounters;
}

/** What workers count, for metrics and tests. */
export interface WorkerCounters {
  /** Closed candles delivered again (redelivered, or already read from the store) and skipped. */
  skipped: number;
  /** Times missing candles were read from the store before a later one. */
  catchUps: number;
  /** Streams restored from a saved state, and warmed up from the store. */
  restored: number;
  warmedUp: number;
  snapshots: number;
}

/** The durable consumer of a partition: shared by whichever worker owns it, so its position survives them. */
export function durableName(venue: ExchangeId, partition: number): string {
  return `algo_${venue}_p${partition}`;
}

/**
 * One partition's share of the trading algorithm, in one worker: every kline stream whose symbol
 * falls in partition p.
 *
 * - Closed candles come through the partition's durable pull consumer on `MD_KLINES` (filter
 *   `md.<venue>.kline.*.*.<p>`; one filter, as server 2.9 allows), acknowledged explicitly once the
 *   engine has taken them. A candle at or before the stream's last one is skipped (a redelivery,
 *   or one the worker already read from the store); one after a hole makes the worker read the
 *   missing ones from the store first, so the engine sees every candle in order whatever the
 *   consumer delivers (another worker pulling the same consumer during a takeover included).
 * - A stream starts from its saved state (KV `algo_state`) and the candles stored since, or,
 *   without one, warms up from the store at its calendar-fixed origin: the values are the same as
 *   any other process's.
 * - Open candles come on the core subjects `md.<venue>.candle.*.*.<p>`; an update of a candle
 *   after the next one to close waits for it, so provisional points follow the final ones.
 * - Every `snapshotMs` the indicator states that changed are saved, once the output they produced
 *   is stored: a successor that starts from a snapshot redoes only what is after it.
 */
export class PartitionWorker {
  private readonly streams = new Map<string, StreamInfo>();
  private readonly preparing = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly heldOpen = new Map<string, CandleEvent>();
  private readonly lastOpen = new Map<string, { seq: number; lastTradeId: number; eventTimeMs: number }>();
  /** Streams with no stored history yet: complete from their first candle. */
  private readonly completeFromFirst = new Set<string>();
  private messages: ConsumerMessages | null = null;
  private openSub: Subscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private consuming: Promise<void> = Promise.resolve();
  private snapshotting: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly log: Logger;
  private readonly throttle = new LogThrottle();

  constructor(
    readonly partition: number,
    private readonly deps: PartitionWorkerDeps,
  ) {
    this.log = deps.logger.child({ component: 'partition', partition });
  }

  /** Streams warmed up or restored, ready for candles. */
  get ready(): readonly string[] {
    return [...this.streams.keys()];
  }

  /** Whether every stream this worker was given is warmed up. */
  get isReady(): boolean {
    return this.preparing.size === 0;
  }

  async start(initial: readonly StreamInfo[]): Promise<void> {
    const { jsm, venue } = this.deps;
    const durable = durableName(venue, this.partition);
    await jsm.consumers.add(KLINE_STREAM, {
      durable_name: durable,
      filter_subject: `md.${venue}.kline.*.*.${this.partition}`,
      ack_policy: AckPolicy.Explicit,
      // What was stored before the first worker came is read from the store by the warm-up.
      deliver_policy: DeliverPolicy.New,
      // Creating it again with another ack_wait updates it (an editable setting).
      ack_wait: nanos(this.deps.ackWaitMs),
      max_ack_pending: 10_000,
    });
    // Live open candles from now on; they wait until their stream is ready.
    this.openSub = this.deps.nc.subscribe(`md.${venue}.candle.*.*.${this.partition}`, {
      callback: (err, msg) => {
        if (!err) this.onOpen(msg);
      },
    });
    await Promise.all(initial.map((info) => this.addStream(info)));
    const consumer = await this.deps.js.consumers.get(KLINE_STREAM, durable);
    this.messages = await consumer.consume({ max_messages: 256 });
    this.consuming = this.consume(this.messages);
    this.timer = setInterval(() => {
      this.snapshotting = this.snapshotting
        .then(() => this.snapshot())
        .catch((err: unknown) => {
          if (this.throttle.take('snapshot') !== null) this.log.warn({ err }, 'indicator states not saved');
        });
    }, this.deps.snapshotMs);
  }

  /** Takes up a stream of this partition (restored or warmed up); resolves once it is ready. */
  addStream(info: StreamInfo): Promise<void> {
    if (this.streams.has(info.stream)) return Promise.resolve();
    let pending = this.preparing.get(info.stream);
    if (!pending) {
      pending = this.prepare(info).finally(() => this.preparing.delete(info.stream));
      this.preparing.set(info.stream, pending);
    }
    return pending;
  }

  /** Stops taking candles, saves the states, and lets go of the streams. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.openSub?.unsubscribe();
    await this.messages?.close();
    await this.consuming;
    await Promise.allSettled([...this.preparing.values()]);
    await this.snapshotting;
    for (const stream of this.streams.keys()) this.dirty.add(stream);
    await this.snapshot().catch((err: unknown) =>
      this.log.warn({ err }, 'indicator states not saved on stop'),
    );
    for (const stream of this.streams.keys()) this.deps.engine.removeStream(stream);
    this.streams.clear();
  }

  private async prepare(info: StreamInfo): Promise<void> {
    const { engine, snapshots, venue, counters } = this.deps;
    let restored = false;
    try {
      const saved = await snapshots.load(venue, info.stream);
      if (saved) {
        engine.restoreState(info, saved.state);
        restored = true;
      }
    } catch (err) {
      this.log.warn({ err, stream: info.stream }, 'saved indicator state not usable, warming up instead');
    }
    if (restored) {
      counters.restored++;
      const last = engine.lastClosedOpenTimeMs(info.stream);
      try {
        if (last !== null) await this.catchUp(info.stream, last);
      } catch (err) {
        if (!(err instanceof ReplayOutOfRange)) throw err;
        // The store no longer reaches back to the saved state: start again from the store.
        this.log.warn(
          { stream: info.stream },
          'saved indicator state older than the stored candles, warming up',
        );
        engine.removeStream(info.stream);
        restored = false;
      }
    }
    if (!restored) await this.warmUp(info);
    if (this.stopped) return;
    this.streams.set(info.stream, info);
    this.dirty.add(info.stream);
  }

  private async warmUp(info: StreamInfo): Promise<void> {
    const { engine, history, counters } = this.deps;
    engine.declareStreams([info]);
    const newest = await history.newest(info.stream);
    if (!newest) {
      // Nothing stored yet: the stream's history starts with its first candle.
      this.completeFromFirst.add(info.stream);
      engine.historyLoaded(info.stream);
      return;
    }
    const from = engine.warmupFromMs(info, newest.candle.openTimeMs);
    const candles = await history.range(info.stream, { startTimeMs: from, limit: Number.MAX_SAFE_INTEGER });
    const first = candles[0];
    // The store may not reach back to the origin (a cluster started recently): the values that
    // depend on what is missing say so (vwapPartial, converged: false) rather than pass for exact.
    engine.completeFrom(info.stream, first && first.openTimeMs > from ? first.openTimeMs : from);
    for (const candle of candles) engine.onCandle(info.stream, candle, true);
    engine.historyLoaded(info.stream);
    counters.warmedUp++;
  }

  /** Feeds the engine the stored closed candles after `lastOpenTimeMs`. */
  private async catchUp(stream: string, lastOpenTimeMs: number): Promise<void> {
    const candles = await this.deps.history.closedSince(stream, lastOpenTimeMs);
    if (candles.length > 0) this.deps.counters.catchUps++;
    for (const candle of candles) this.take(stream, candle);
  }

  private async consume(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const msg of messages) {
        try {
          await this.onClosed(msg);
          msg.ack();
        } catch (err) {
          // Not acknowledged: redelivered after ack_wait, and then skipped or taken in order.
          if (this.throttle.take('candle') !== null) this.log.error({ err }, 'closed candle not processed');
        }
      }
    } catch (err) {
      if (!this.stopped) this.log.error({ err }, 'partition consumer stopped');
    }
  }

  private async onClosed(msg: JsMsg): Promise<void> {
    let event: CandleEvent;
    try {
      const decoded = decodeEvent(msg.data);
      if (decoded.type !== 'candle' || !decoded.candle.closed) return;
      event = decoded;
    } catch {
      if (this.throttle.take('malformed') !== null)
        this.log.warn({ subject: msg.subject }, 'malformed candle skipped');
      return;
    }
    const { stream, candle } = event;
    if (!this.streams.has(stream)) {
      if (!this.deps.serves(stream)) return;
      // A stream listed since the worker started (or still warming up): its warm-up reads the
      // store, most likely this candle included; if not, it is taken below.
      await this.addStream({
        stream,
        exchange: candle.exchange,
        symbol: candle.symbol,
        interval: candle.interval,
      });
      if (!this.streams.has(stream)) return;
    }
    const last = this.deps.engine.lastClosedOpenTimeMs(stream);
    if (last !== null && candle.openTimeMs <= last) {
      this.deps.counters.skipped++;
      return;
    }
    if (last !== null && event.seq > candleSeq({ interval: candle.interval, openTimeMs: last }) + 1) {
      await this.catchUp(stream, last);
      if ((this.deps.engine.lastClosedOpenTimeMs(stream) ?? 0) >= candle.openTimeMs) return;
    }
    this.take(stream, candle);
  }

  /** One closed candle into the engine, then the open update that waited for it. */
  private take(stream: string, candle: Candle): void {
    const { engine } = this.deps;
    if (this.completeFromFirst.delete(stream)) engine.completeFrom(stream, candle.openTimeMs);
    engine.onCandle(stream, candle, false);
    this.dirty.add(stream);
    const held = this.heldOpen.get(stream);
    if (held) {
      this.heldOpen.delete(stream);
      this.onOpenEvent(held);
    }
  }

  private onOpen(msg: Msg): void {
    let event: CandleEvent;
    try {
      const decoded = decodeEvent(msg.data);
      if (decoded.type !== 'candle' || decoded.candle.closed) return;
      event = decoded;
    } catch {
      return;
    }
    // Two producers send every update: one copy, and never an older one, goes through.
    const o = this.lastOpen.get(event.stream);
    const { lastTradeId, eventTimeMs } = event.candle;
    if (
      o &&
      (event.seq < o.seq ||
        (event.seq === o.seq &&
          (lastTradeId < o.lastTradeId || (lastTradeId === o.lastTradeId && eventTimeMs <= o.eventTimeMs))))
    ) {
      return;
    }
    this.lastOpen.set(event.stream, { seq: event.seq, lastTradeId, eventTimeMs });
    this.onOpenEvent(event);
  }

  private onOpenEvent(event: CandleEvent): void {
    if (!this.streams.has(event.stream) || this.stopped) return;
    const last = this.deps.engine.lastClosedOpenTimeMs(event.stream);
    const lastSeq = last === null ? null : candleSeq({ interval: event.candle.interval, openTimeMs: last });
    if (lastSeq !== null && event.seq <= lastSeq) return;
    if (lastSeq !== null && event.seq > lastSeq + 1) {
      // The candle before it has not closed here yet: this update waits for it.
      this.heldOpen.set(event.stream, event);
      return;
    }
    this.deps.engine.onCandle(event.stream, event.candle, false);
  }

  /** Saves the states that changed, once the output they produced is stored. */
  private async snapshot(): Promise<void> {
    const { engine, output, snapshots, venue, counters } = this.deps;
    const states = [...this.dirty].flatMap((stream) => {
      const state = engine.saveState(stream);
      return state ? [{ stream, state }] : [];
    });
    this.dirty.clear();
    if (states.length === 0) return;
    try {
      await output.settled();
    } catch (err) {
      // Not sure the output is out: saved later, with what follows.
      for (const { stream } of states) this.dirty.add(stream);
      throw err;
    }
    for (const { stream, state } of states) {
      try {
        await snapshots.save(venue, { stream, state, savedAtMs: Date.now() });
        counters.snapshots++;
      } catch (err) {
        this.dirty.add(stream);
        if (this.throttle.take('snapshot') !== null)
          this.log.warn({ err, stream }, 'indicator state not saved');
      }
    }
  }
}
