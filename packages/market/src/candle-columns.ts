import type { Candle, ExchangeId } from './candle.js';
import { type Interval, intervalCloseTimeMs } from './interval.js';

/** The stream every candle of a {@link CandleColumns} belongs to. */
export interface CandleSeriesId {
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly interval: Interval;
}

/** Marks a candle without trade ids (REST rows): its first id is -1. */
const NO_TRADE_IDS = 0xffff_ffff;
const INITIAL_CAPACITY = 256;

/**
 * Bytes a held candle costs in {@link CandleColumns}: open time, eight prices and volumes, the
 * last trade id and the receive time as doubles (11 × 8), the trade count, the span of trade ids
 * and the event time as 32-bit integers (3 × 4).
 */
export const CANDLE_COLUMN_BYTES = 11 * 8 + 3 * 4;

/**
 * Closed candles of one stream held as columns of typed arrays in a ring, oldest first: about 100
 * bytes a candle, against the kilobyte or so of a `Candle` object with its strings and headers. A
 * month of 1m candles (44,640) is 4.5 MB.
 *
 * The close time is derived from the open time; the first trade id is kept as its distance to the
 * last, and the event time as its distance to the close, as 32-bit integers (values beyond their
 * range go to a small side table, so nothing is lost). Candles are materialised as `Candle`
 * objects only when read.
 *
 * The ring grows by doubling up to `maxCapacity`; once full, appending evicts the oldest candle.
 * Candles can also be added before the oldest (`prepend`) while there is room.
 */
export class CandleColumns {
  private capacity: number;
  private head = 0;
  private count = 0;
  private openTime: Float64Array;
  private open: Float64Array;
  private high: Float64Array;
  private low: Float64Array;
  private close: Float64Array;
  private volume: Float64Array;
  private quoteVolume: Float64Array;
  private takerBuyVolume: Float64Array;
  private takerBuyQuoteVolume: Float64Array;
  private lastTradeId: Float64Array;
  private receivedTime: Float64Array;
  private trades: Uint32Array;
  private tradeIdSpan: Uint32Array;
  private eventDelay: Int32Array;
  /** Fields that do not fit their compact column, by open time. */
  private readonly overflow = new Map<
    number,
    { firstTradeId: number; eventTimeMs: number; trades: number }
  >();

  constructor(
    readonly series: CandleSeriesId,
    readonly maxCapacity: number,
  ) {
    if (!Number.isInteger(maxCapacity) || maxCapacity < 1)
      throw new RangeError('CandleColumns capacity must be a positive integer');
    this.capacity = Math.min(maxCapacity, INITIAL_CAPACITY);
    this.openTime = new Float64Array(this.capacity);
    this.open = new Float64Array(this.capacity);
    this.high = new Float64Array(this.capacity);
    this.low = new Float64Array(this.capacity);
    this.close = new Float64Array(this.capacity);
    this.volume = new Float64Array(this.capacity);
    this.quoteVolume = new Float64Array(this.capacity);
    this.takerBuyVolume = new Float64Array(this.capacity);
    this.takerBuyQuoteVolume = new Float64Array(this.capacity);
    this.lastTradeId = new Float64Array(this.capacity);
    this.receivedTime = new Float64Array(this.capacity);
    this.trades = new Uint32Array(this.capacity);
    this.tradeIdSpan = new Uint32Array(this.capacity);
    this.eventDelay = new Int32Array(this.capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Whether `prepend` or `push` can add a candle without evicting one. */
  get isFull(): boolean {
    return this.count >= this.maxCapacity;
  }

  /** Bytes allocated for the columns (capacity, not size). */
  get byteLength(): number {
    return this.capacity * CANDLE_COLUMN_BYTES;
  }

  get oldestOpenTimeMs(): number | null {
    return this.count === 0 ? null : this.openTimeAt(0);
  }

  get newestOpenTimeMs(): number | null {
    return this.count === 0 ? null : this.openTimeAt(this.count - 1);
  }

  /** Open time of the `index`-th candle, oldest first. */
  openTimeAt(index: number): number {
    return this.openTime[this.slot(index)] ?? Number.NaN;
  }

  /** Appends a candle newer than every held one; evicts the oldest when full. */
  push(candle: Candle): void {
    const newest = this.newestOpenTimeMs;
    if (newest !== null && candle.openTimeMs <= newest)
      throw new RangeError(`candle ${candle.openTimeMs} is not after the newest held (${newest})`);
    if (this.count === this.capacity && this.capacity < this.maxCapacity) this.grow();
    if (this.count === this.capacity) {
      this.overflow.delete(this.openTimeAt(0));
      this.head = (this.head + 1) % this.capacity;
      this.count -= 1;
    }
    this.write((this.head + this.count) % this.capacity, candle);
    this.count += 1;
  }

  /**
   * Adds candles older than every held one (ascending), newest first, while there is room;
   * returns how many of the newest were added (the rest, the oldest, did not fit).
   */
  prepend(candles: readonly Candle[]): number {
    let added = 0;
    for (let i = candles.length - 1; i >= 0; i--) {
      const candle = candles[i];
      if (candle === undefined) continue;
      const oldest = this.oldestOpenTimeMs;
      if (oldest !== null && candle.openTimeMs >= oldest) continue;
      if (this.count === this.capacity && this.capacity < this.maxCapacity) this.grow();
      if (this.count === this.capacity) break;
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.write(this.head, candle);
      this.count += 1;
      added += 1;
    }
    return added;
  }

  /** Index of the first candle opening at or after `openTimeMs` (`size` when none does). */
  lowerBound(openTimeMs: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.openTimeAt(mid) < openTimeMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The `index`-th candle, oldest first, as a `Candle`. */
  get(index: number): Candle {
    if (!(index >= 0 && index < this.count)) throw new RangeError(`no candle at index ${index}`);
    const i = this.slot(index);
    const openTimeMs = this.openTime[i] ?? 0;
    const closeTimeMs = intervalCloseTimeMs(this.series.interval, openTimeMs);
    const lastTradeId = this.lastTradeId[i] ?? -1;
    const span = this.tradeIdSpan[i] ?? NO_TRADE_IDS;
    const extra = this.overflow.get(openTimeMs);
    return {
      type: 'candle',
      exchange: this.series.exchange,
      symbol: this.series.symbol,
      interval: this.series.interval,
      openTimeMs,
      closeTimeMs,
      open: this.open[i] ?? 0,
      high: this.high[i] ?? 0,
      low: this.low[i] ?? 0,
      close: this.close[i] ?? 0,
      volume: this.volume[i] ?? 0,
      quoteVolume: this.quoteVolume[i] ?? 0,
      takerBuyVolume: this.takerBuyVolume[i] ?? 0,
      takerBuyQuoteVolume: this.takerBuyQuoteVolume[i] ?? 0,
      trades: extra?.trades ?? this.trades[i] ?? 0,
      firstTradeId: extra?.firstTradeId ?? (span === NO_TRADE_IDS ? -1 : lastTradeId - span),
      lastTradeId,
      closed: true,
      eventTimeMs: extra?.eventTimeMs ?? closeTimeMs + (this.eventDelay[i] ?? 0),
      receivedTimeMs: this.receivedTime[i] ?? 0,
    };
  }

  /** Candles `from` (inclusive) to `to` (exclusive), by index, oldest first. */
  slice(from: number, to: number = this.count): Candle[] {
    const out: Candle[] = [];
    for (let k = Math.max(0, from); k < Math.min(to, this.count); k++) out.push(this.get(k));
    return out;
  }

  private slot(index: number): number {
    return (this.head + index) % this.capacity;
  }

  private write(i: number, c: Candle): void {
    this.openTime[i] = c.openTimeMs;
    this.open[i] = c.open;
    this.high[i] = c.high;
    this.low[i] = c.low;
    this.close[i] = c.close;
    this.volume[i] = c.volume;
    this.quoteVolume[i] = c.quoteVolume;
    this.takerBuyVolume[i] = c.takerBuyVolume;
    this.takerBuyQuoteVolume[i] = c.takerBuyQuoteVolume;
    this.lastTradeId[i] = c.lastTradeId;
    this.receivedTime[i] = c.receivedTimeMs;
    const span = c.firstTradeId === -1 ? NO_TRADE_IDS : c.lastTradeId - c.firstTradeId;
    const delay = c.eventTimeMs - intervalCloseTimeMs(this.series.interval, c.openTimeMs);
    const compact =
      Number.isInteger(span) &&
      span >= 0 &&
      span <= NO_TRADE_IDS &&
      (span !== NO_TRADE_IDS || c.firstTradeId === -1) &&
      Number.isInteger(delay) &&
      delay >= -(2 ** 31) &&
      delay < 2 ** 31 &&
      Number.isInteger(c.trades) &&
      c.trades >= 0 &&
      c.trades < 2 ** 32;
    this.tradeIdSpan[i] = compact ? span : NO_TRADE_IDS;
    this.eventDelay[i] = compact ? delay : 0;
    this.trades[i] = compact ? c.trades : 0;
    if (compact) this.overflow.delete(c.openTimeMs);
    else
      this.overflow.set(c.openTimeMs, {
        firstTradeId: c.firstTradeId,
        eventTimeMs: c.eventTimeMs,
        trades: c.trades,
      });
  }

  private grow(): void {
    const capacity = Math.min(this.maxCapacity, this.capacity * 2);
    const move = <T extends Float64Array | Uint32Array | Int32Array>(from: T, make: (n: number) => T): T => {
      const to = make(capacity);
      for (let k = 0; k < this.count; k++) to[k] = from[this.slot(k)] ?? 0;
      return to;
    };
    const f64 = (n: number) => new Float64Array(n);
    const u32 = (n: number) => new Uint32Array(n);
    this.openTime = move(this.openTime, f64);
    this.open = move(this.open, f64);
    this.high = move(this.high, f64);
    this.low = move(this.low, f64);
    this.close = move(this.close, f64);
    this.volume = move(this.volume, f64);
    this.quoteVolume = move(this.quoteVolume, f64);
    this.takerBuyVolume = move(this.takerBuyVolume, f64);
    this.takerBuyQuoteVolume = move(this.takerBuyQuoteVolume, f64);
    this.lastTradeId = move(this.lastTradeId, f64);
    this.receivedTime = move(this.receivedTime, f64);
    this.trades = move(this.trades, u32);
    this.tradeIdSpan = move(this.tradeIdSpan, u32);
    this.eventDelay = move(this.eventDelay, (n) => new Int32Array(n));
    this.head = 0;
    this.capacity = capacity;
  }
}
