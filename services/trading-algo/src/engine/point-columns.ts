import type { WireIndicatorPoint, WireVwapBands } from '@visualgo/contracts';
import {
  type Candle,
  type IndicatorPoint,
  type Interval,
  intervalCloseTimeMs,
  type RubberbandSignal,
} from '@visualgo/market';

const SIGNALS: readonly RubberbandSignal[] = ['none', 'overbought', 'oversold'];
const PARTIAL = 4;
const CONVERGED = 8;

/** Bytes a kept point costs in {@link PointColumns}: eleven doubles and a flag byte. */
export const POINT_COLUMN_BYTES = 11 * 8 + 1;

/**
 * The newest `capacity` final points of one stream, held as columns of typed arrays in a ring:
 * about 90 bytes a point instead of the kilobyte of a point object with its band arrays. Null
 * indicator values are kept as NaN (indicators never produce NaN), the close time is derived from
 * the open time, and the bands from the VWAP and its σ exactly as the indicator set computes them
 * (vwap ∓ m·σ), so a point read back is the one written, bit for bit.
 */
export class PointColumns {
  private head = 0;
  private count = 0;
  private readonly openTime: Float64Array;
  private readonly candle: Float64Array; // open, high, low, close, volume: 5 per point
  private readonly values: Float64Array; // ema, vwap, sigma, atr, stretch, vwapFromMs: 6 per point
  private readonly flags: Uint8Array;

  constructor(
    readonly interval: Interval,
    /** Band multipliers, in the order the indicator set reports them. */
    readonly bands: readonly number[],
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('history capacity must be >= 1');
    this.openTime = new Float64Array(capacity);
    this.candle = new Float64Array(capacity * 5);
    this.values = new Float64Array(capacity * 6);
    this.flags = new Uint8Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.capacity * POINT_COLUMN_BYTES;
  }

  /** Appends the final point of a closed candle; the oldest goes once full. */
  push(c: Candle, p: IndicatorPoint): void {
    let i: number;
    if (this.count < this.capacity) {
      i = (this.head + this.count) % this.capacity;
      this.count++;
    } else {
      i = this.head;
      this.head = (this.head + 1) % this.capacity;
    }
    this.openTime[i] = p.openTimeMs;
    this.candle.set([c.open, c.high, c.low, c.close, c.volume], i * 5);
    this.values.set(
      [
        p.ema ?? Number.NaN,
        p.vwap ?? Number.NaN,
        p.vwapSigma ?? Number.NaN,
        p.atr ?? Number.NaN,
        p.stretch ?? Number.NaN,
        p.vwapFromMs ?? Number.NaN,
      ],
      i * 6,
    );
    this.flags[i] = SIGNALS.indexOf(p.signal) | (p.vwapPartial ? PARTIAL : 0) | (p.converged ? CONVERGED : 0);
  }

  /** The newest `limit` points (all when omitted), oldest first. */
  last(limit = this.count): WireIndicatorPoint[] {
    return this.window(this.count, limit);
  }

  /** The newest `limit` points that open at or before `endTimeMs`, oldest first. */
  lastUpTo(endTimeMs: number, limit: number): WireIndicatorPoint[] {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.openTime[this.slot(mid)] ?? 0) <= endTimeMs) lo = mid + 1;
      else hi = mid;
    }
    return this.window(lo, limit);
  }

  /** Points [end − limit, end) by age index, materialised. */
  private window(end: number, limit: number): WireIndicatorPoint[] {
    const out: WireIndicatorPoint[] = [];
    for (let k = Math.max(0, end - Math.max(0, limit)); k < end; k++) out.push(this.get(k));
    return out;
  }

  private slot(k: number): number {
    return (this.head + k) % this.capacity;
  }

  private get(k: number): WireIndicatorPoint {
    const i = this.slot(k);
    const v = (j: number): number | null => {
      const x = this.values[i * 6 + j] ?? Number.NaN;
      return Number.isNaN(x) ? null : x;
    };
    const c = (j: number): number => this.candle[i * 5 + j] ?? 0;
    const vwap = v(1);
    const sigma = v(2);
    let bands: WireVwapBands = null;
    if (vwap !== null && sigma !== null) {
      bands = {};
      for (const m of this.bands) bands[String(m)] = [vwap - m * sigma, vwap + m * sigma];
    }
    const flags = this.flags[i] ?? 0;
    const openTimeMs = this.openTime[i] ?? 0;
    return {
      openTimeMs,
      closeTimeMs: intervalCloseTimeMs(this.interval, openTimeMs),
      final: true,
      open: c(0),
      high: c(1),
      low: c(2),
      close: c(3),
      volume: c(4),
      ema: v(0),
      vwap,
      vwapBands: bands,
      atr: v(3),
      stretch: v(4),
      signal: SIGNALS[flags & 3] ?? 'none',
      vwapFromMs: v(5),
      vwapPartial: (flags & PARTIAL) !== 0,
      converged: (flags & CONVERGED) !== 0,
    };
  }
}
