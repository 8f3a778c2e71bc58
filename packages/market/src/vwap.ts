import type { Candle } from './candle.js';
import { assertFinite, type StreamingIndicator } from './indicator.js';
import { type Interval, intervalOpenTimeMs, nextOpenTimeMs } from './interval.js';

/** When an anchored VWAP starts a new period, in UTC market time (`VWAP_ANCHOR`). */
export type VwapAnchor = 'day' | 'week' | 'month' | 'none';
/** Which price a candle contributes (`VWAP_SOURCE`). */
export type VwapSource = 'hlc3' | 'trades';

export const VWAP_ANCHORS: readonly VwapAnchor[] = ['day', 'week', 'month', 'none'];
export const VWAP_SOURCES: readonly VwapSource[] = ['hlc3', 'trades'];
export const DEFAULT_VWAP_ANCHOR: VwapAnchor = 'day';
export const DEFAULT_VWAP_SOURCE: VwapSource = 'hlc3';
export const DEFAULT_VWAP_BANDS: readonly number[] = [1, 2];

/** The part of a candle the VWAP reads. */
export type VwapInput = Pick<Candle, 'openTimeMs' | 'high' | 'low' | 'close' | 'volume' | 'quoteVolume'>;

export interface VwapOptions {
  readonly anchor?: VwapAnchor;
  readonly source?: VwapSource;
  /** Standard-deviation multipliers m of the bands VWAP ± m·σ. */
  readonly bands?: readonly number[];
}

/**
 * Start of the anchor period that contains a candle opening at `openTimeMs`: 00:00 UTC of its day,
 * Monday 00:00 UTC of its week (the same weeks as Binance's `1w` candles), the 1st 00:00 UTC of its
 * month, or −∞ for `none` (one period for the whole series). Depends only on the candle's open time,
 * never on a clock.
 */
export function vwapAnchorStartMs(anchor: VwapAnchor, openTimeMs: number): number {
  const interval = ANCHOR_INTERVAL[anchor];
  return interval === null ? Number.NEGATIVE_INFINITY : intervalOpenTimeMs(interval, openTimeMs);
}

/** The candle interval whose candles are the anchor periods. */
const ANCHOR_INTERVAL: Readonly<Record<VwapAnchor, Interval | null>> = {
  day: '1d',
  week: '1w',
  month: '1M',
  none: null,
};

function anchorEndMs(anchor: VwapAnchor, startMs: number): number {
  const interval = ANCHOR_INTERVAL[anchor];
  return interval === null ? Number.POSITIVE_INFINITY : nextOpenTimeMs(interval, startMs);
}

/** A caller-owned holder that {@link Vwap.readInto} and {@link Vwap.previewInto} fill, so it can be reused. */
export class VwapReading {
  vwap: number | null = null;
  /** Volume-weighted standard deviation of the price around the VWAP; null exactly when `vwap` is. */
  sigma: number | null = null;
  /** Open time of the first candle the current period's sums cover; null exactly when `vwap` is. */
  fromMs: number | null = null;
}

/**
 * Per-period sums. Prices enter the variance shifted by `origin` (the first price of the period
 * that carried volume): σ² = Σv·d²/Σv − (Σv·d/Σv)² with d = p − origin is the same quantity as
 * Σv·p²/Σv − VWAP² but does not lose the digits of σ² to the cancellation of two numbers near p².
 */
export interface VwapSums {
  periodStartMs: number;
  /** First instant after the period, so that candles inside it need no calendar arithmetic. */
  periodEndMs: number;
  /** Open time of the period's first candle that was added. */
  firstOpenTimeMs: number;
  volume: number;
  priceVolume: number;
  origin: number;
  shiftedVolume: number;
  shiftedSquareVolume: number;
}

/** Sums of no candles, in an empty period that every candle lies outside of. */
function emptySums(): VwapSums {
  const never = Number.NEGATIVE_INFINITY;
  return {
    periodStartMs: never,
    periodEndMs: never,
    firstOpenTimeMs: never,
    volume: 0,
    priceVolume: 0,
    origin: 0,
    shiftedVolume: 0,
    shiftedSquareVolume: 0,
  };
}

function copySums(from: VwapSums, to: VwapSums): void {
  to.periodStartMs = from.periodStartMs;
  to.periodEndMs = from.periodEndMs;
  to.firstOpenTimeMs = from.firstOpenTimeMs;
  to.volume = from.volume;
  to.priceVolume = from.priceVolume;
  to.origin = from.origin;
  to.shiftedVolume = from.shiftedVolume;
  to.shiftedSquareVolume = from.shiftedSquareVolume;
}

/**
 * Anchored volume-weighted average price with standard-deviation bands.
 *
 * Over the candles of the current anchor period (see {@link vwapAnchorStartMs}; the period of a
 * candle is decided by its `openTimeMs`, and the sums restart when it changes):
 *
 * - `hlc3` source (TradingView's default `VWAP` and the seed's): p = (high + low + close)/3 with
 *   weight v = volume, VWAP = Σ(p·v)/Σv.
 * - `trades` source: the exact traded VWAP Σ quoteVolume / Σ volume. For the bands each candle's
 *   price is its own traded average p = quoteVolume/volume, so p·v = quoteVolume.
 *
 * σ = sqrt(max(0, Σ(v·p²)/Σv − VWAP²)) (TradingView's `ta.vwap` stdev bands), band m is
 * VWAP ± m·σ. A period whose volume is zero so far has no VWAP: the result is `null`, never NaN.
 * Candles with zero volume contribute nothing. Volumes must be ≥ 0.
 */
/** Everything a {@link Vwap} holds, as plain data ({@link Vwap.saveState}); bounds may be ±∞. */
export interface VwapState {
  readonly count: number;
  readonly sums: Readonly<VwapSums>;
  readonly prevSums: Readonly<VwapSums>;
}

export class Vwap implements StreamingIndicator<VwapInput> {
  readonly anchor: VwapAnchor;
  readonly source: VwapSource;
  readonly bands: readonly number[];

  private count = 0;
  private readonly sums: VwapSums = emptySums();
  private readonly prevSums: VwapSums = emptySums();
  /** Scratch for `preview`, so it can reuse the accumulation code without touching `sums`. */
  private readonly scratch: VwapSums = emptySums();

  constructor(options: VwapOptions = {}) {
    this.anchor = options.anchor ?? DEFAULT_VWAP_ANCHOR;
    this.source = options.source ?? DEFAULT_VWAP_SOURCE;
    const bands = options.bands ?? DEFAULT_VWAP_BANDS;
    for (const m of bands) {
      if (!Number.isFinite(m) || m <= 0) throw new RangeError(`VWAP band multipliers must be > 0, got ${m}`);
    }
    this.bands = [...bands];
  }

  get isStable(): boolean {
    return this.sums.volume > 0;
  }

  /** Start of the current anchor period, or null before the first candle. */
  get periodStartMs(): number | null {
    return this.count === 0 ? null : this.sums.periodStartMs;
  }

  getResult(): number | null {
    return vwapOf(this.sums);
  }

  getSigma(): number | null {
    return sigmaOf(this.sums);
  }

  /** Lower band VWAP − m·σ for the multiplier `bands[index]`. */
  getLowerBand(index: number): number | null {
    return this.band(index, -1);
  }

  /** Upper band VWAP + m·σ for the multiplier `bands[index]`. */
  getUpperBand(index: number): number | null {
    return this.band(index, 1);
  }

  /**
   * Start of the anchor period of a candle opening at `openTimeMs` ({@link vwapAnchorStartMs}),
   * answered from the current period's bounds when the candle falls inside it.
   */
  anchorStartMsOf(openTimeMs: number): number {
    const sums = this.sums;
    if (openTimeMs >= sums.periodStartMs && openTimeMs < sums.periodEndMs) return sums.periodStartMs;
    return vwapAnchorStartMs(this.anchor, openTimeMs);
  }

  /** Fills `out` with the committed VWAP and σ. */
  readInto(out: VwapReading): VwapReading {
    return readSums(this.sums, out);
  }

  add(candle: VwapInput): number | null {
    checkInput(candle);
    copySums(this.sums, this.prevSums);
    this.accumulate(this.sums, candle);
    this.count += 1;
    return vwapOf(this.sums);
  }

  replace(candle: VwapInput): number | null {
    if (this.count === 0) return this.add(candle);
    checkInput(candle);
    copySums(this.prevSums, this.sums);
    this.accumulate(this.sums, candle);
    return vwapOf(this.sums);
  }

  preview(candle: VwapInput): number | null {
    checkInput(candle);
    copySums(this.sums, this.scratch);
    this.accumulate(this.scratch, candle);
    return vwapOf(this.scratch);
  }

  /** Fills `out` with the VWAP and σ that adding `candle` would give, without committing it. */
  previewInto(candle: VwapInput, out: VwapReading): VwapReading {
    checkInput(candle);
    copySums(this.sums, this.scratch);
    this.accumulate(this.scratch, candle);
    return readSums(this.scratch, out);
  }

  /** The whole state, as plain data: restored into a VWAP of the same options, it continues bit for bit. */
  saveState(): VwapState {
    return { count: this.count, sums: { ...this.sums }, prevSums: { ...this.prevSums } };
  }

  /** Takes over a state from {@link saveState} (of a VWAP with the same options). */
  restoreState(state: VwapState): void {
    this.count = state.count;
    copySums(state.sums, this.sums);
    copySums(state.prevSums, this.prevSums);
  }

  private band(index: number, side: 1 | -1): number | null {
    const m = this.bands[index];
    if (m === undefined) throw new RangeError(`no VWAP band at index ${index}`);
    const vwap = vwapOf(this.sums);
    const sigma = sigmaOf(this.sums);
    return vwap === null || sigma === null ? null : vwap + side * m * sigma;
  }

  private accumulate(sums: VwapSums, candle: VwapInput): void {
    const t = candle.openTimeMs;
    // Resetting sums that are still empty is harmless, so the first candle needs no special case.
    if (!(t >= sums.periodStartMs && t < sums.periodEndMs)) {
      sums.periodStartMs = vwapAnchorStartMs(this.anchor, t);
      sums.periodEndMs = anchorEndMs(this.anchor, sums.periodStartMs);
      sums.firstOpenTimeMs = t;
      sums.volume = 0;
      sums.priceVolume = 0;
      sums.origin = 0;
      sums.shiftedVolume = 0;
      sums.shiftedSquareVolume = 0;
    }
    const v = candle.volume;
    if (v === 0) return;
    let p: number;
    let pv: number;
    if (this.source === 'trades') {
      pv = candle.quoteVolume;
      p = pv / v;
    } else {
      p = (candle.high + candle.low + candle.close) / 3;
      pv = p * v;
    }
    if (sums.volume === 0) sums.origin = p;
    const d = p - sums.origin;
    sums.volume += v;
    sums.priceVolume += pv;
    sums.shiftedVolume += v * d;
    sums.shiftedSquareVolume += v * d * d;
  }
}

function readSums(sums: VwapSums, out: VwapReading): VwapReading {
  out.vwap = vwapOf(sums);
  out.sigma = sigmaOf(sums);
  out.fromMs = out.vwap === null ? null : sums.firstOpenTimeMs;
  return out;
}

function vwapOf(sums: VwapSums): number | null {
  return sums.volume > 0 ? sums.priceVolume / sums.volume : null;
}

function sigmaOf(sums: VwapSums): number | null {
  if (!(sums.volume > 0)) return null;
  const meanShift = sums.shiftedVolume / sums.volume;
  const variance = sums.shiftedSquareVolume / sums.volume - meanShift * meanShift;
  return variance > 0 ? Math.sqrt(variance) : 0;
}

function checkInput(candle: VwapInput): void {
  assertFinite('VWAP openTimeMs', candle.openTimeMs);
  assertFinite('VWAP high', candle.high);
  assertFinite('VWAP low', candle.low);
  assertFinite('VWAP close', candle.close);
  assertFinite('VWAP volume', candle.volume);
  assertFinite('VWAP quoteVolume', candle.quoteVolume);
  if (candle.volume < 0 || candle.quoteVolume < 0) {
    throw new RangeError(`VWAP volumes must be >= 0, got ${candle.volume} and ${candle.quoteVolume}`);
  }
}
