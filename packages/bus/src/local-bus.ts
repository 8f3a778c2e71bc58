import { parseStreamName } from '@visualgo/market';
import { CandleRetention, type ReplaySource } from './candle-retention.js';
import { DEFAULT_MAX_QUEUED, type MarketBus, type SubscribeOptions } from './market-bus.js';
import {
  type CandleEvent,
  candleEvent,
  candleSeq,
  type MarketEvent,
  type MarketEventType,
  openTimeOfSeq,
} from './market-event.js';
import { Subscription } from './subscription.js';

const ALL_TYPES: readonly MarketEventType[] = ['candle', 'trade', 'status'];

export interface LocalBusOptions {
  /**
   * The producer's record that replays are read from (data-ingest's candle books and the
   * exchange behind them). Without one, the bus keeps the last `retainCandles` closed candles of
   * each kline stream itself.
   */
  readonly history?: ReplaySource;
  /** Closed candles kept per kline stream when there is no `history`. Default 1000. */
  readonly retainCandles?: number;
  /** Default bound of a subscriber's live queue. Default {@link DEFAULT_MAX_QUEUED}. */
  readonly maxQueued?: number;
}

/**
 * The in-process {@link MarketBus}, the default when no external bus is configured: publishing
 * hands the event object itself to each subscriber of its stream (so wire encodings memoised on it
 * are shared), with the cost of one queue push per subscriber. It keeps each kline stream's current
 * open candle, and replays closed candles from `history` (or its own retention).
 */
export class LocalBus implements MarketBus {
  private readonly byStream = new Map<string, Set<Subscription>>();
  private readonly openCandles = new Map<string, CandleEvent>();
  private readonly history: ReplaySource;
  private readonly retention: CandleRetention | null;
  private readonly maxQueued: number;
  private subscriptions = 0;

  constructor(options: LocalBusOptions = {}) {
    this.retention = options.history ? null : new CandleRetention(options.retainCandles ?? 1_000);
    this.history = options.history ?? (this.retention as CandleRetention);
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  }

  /** Open subscriptions. */
  get subscriberCount(): number {
    return this.subscriptions;
  }

  publish(event: MarketEvent): void {
    if (event.type === 'candle') this.record(event);
    const subscribers = this.byStream.get(event.stream);
    if (!subscribers) return;
    for (const subscription of subscribers) if (subscription.wants(event.type)) subscription.offer(event);
  }

  subscribe(options: SubscribeOptions): Subscription {
    if (options.fromSeq !== undefined && options.sinceOpenTimeMs !== undefined)
      throw new RangeError('subscribe with fromSeq or sinceOpenTimeMs, not both');
    const streams = new Set(options.streams);
    const subscription = new Subscription(
      streams,
      new Set(options.types ?? ALL_TYPES),
      options.maxQueued ?? this.maxQueued,
      (s) => this.detach(s),
      options.signal,
    );
    if (options.signal?.aborted) {
      subscription.close();
      return subscription;
    }
    // Live events are taken from now on; the replay prepared below is joined to them by seq.
    for (const stream of streams) {
      let set = this.byStream.get(stream);
      if (!set) {
        set = new Set();
        this.byStream.set(stream, set);
      }
      set.add(subscription);
    }
    this.subscriptions++;
    const starts = replayStarts(streams, options);
    for (const [stream, since] of starts) {
      const id = parseStreamName(stream);
      if (id?.kind === 'kline')
        subscription.startAfter(stream, candleSeq({ interval: id.interval, openTimeMs: since }));
    }
    const wantsCandles = subscription.wants('candle');
    if (wantsCandles && starts.size > 0)
      subscription.replayFrom(this.prepareReplay(streams, starts, options));
    else if (wantsCandles && options.withOpenCandle) subscription.replayNow(this.currentOpen(streams));
    return subscription;
  }

  private detach(subscription: Subscription): void {
    let found = false;
    for (const stream of subscription.streams) {
      const set = this.byStream.get(stream);
      if (set?.delete(subscription)) found = true;
      if (set?.size === 0) this.byStream.delete(stream);
    }
    if (found) this.subscriptions--;
  }

  private record(event: CandleEvent): void {
    const { candle } = event;
    if (!candle.closed) {
      this.openCandles.set(event.stream, event);
      return;
    }
    const open = this.openCandles.get(event.stream);
    if (open && open.seq <= event.seq) this.openCandles.delete(event.stream);
    this.retention?.append(event.stream, candle);
  }

  private currentOpen(streams: Iterable<string>): CandleEvent[] {
    const out: CandleEvent[] = [];
    for (const stream of streams) {
      const open = this.openCandles.get(stream);
      if (open) out.push(open);
    }
    return out;
  }

  /** Closed candles of every stream from its start, oldest first across streams, then open candles. */
  private async prepareReplay(
    streams: ReadonlySet<string>,
    starts: ReadonlyMap<string, number>,
    options: SubscribeOptions,
  ): Promise<MarketEvent[]> {
    const signal = options.signal ?? new AbortController().signal;
    const closed: CandleEvent[] = [];
    for (const [stream, since] of starts) {
      for (const candle of await this.history.closedSince(stream, since, signal))
        closed.push(candleEvent(stream, candle));
    }
    // Streams of different intervals interleave by open time (a stable sort keeps each in order).
    if (starts.size > 1) closed.sort((a, b) => a.candle.openTimeMs - b.candle.openTimeMs);
    const out: MarketEvent[] = closed;
    if (options.withOpenCandle) out.push(...this.currentOpen(streams));
    return out;
  }
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
    // From seq n inclusive: after the open time of the candle before it.
    starts.set(stream, openTimeOfSeq(id.interval, seq) - 1);
  }
  return starts;
}
