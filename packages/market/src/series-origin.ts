import { candleIndexOf, type Interval, openTimeOfCandleIndex } from './interval.js';
import { type VwapAnchor, vwapAnchorStartMs } from './vwap.js';

/** Relative agreement with a full-history computation that a converged EMA or ATR reaches. */
export const CONVERGENCE_TOLERANCE = 1e-9;
/**
 * Largest relative error of an indicator's seed that convergence is computed for: a seed off by
 * up to 1000 times the value it converges to (an ATR seeded in a crash, read after the market
 * calmed down by three orders of magnitude) still converges within the window.
 */
export const SEED_ERROR_BOUND = 1_000;
/** Candles per epoch (at 1m, one UTC day), before scaling up for long convergence windows. */
export const EPOCH_CANDLES = 1_440;

function decayCandles(retained: number): number {
  // Two runs of a linear recursion x ← r·x + (1 − r)·input that differ only in their starting
  // value differ by r^n after n more inputs: n ≥ ln(tolerance / bound) / ln(r).
  return Math.ceil(Math.log(CONVERGENCE_TOLERANCE / SEED_ERROR_BOUND) / Math.log(retained));
}

/**
 * Candles after which an EMA(N) seeded anywhere agrees with the full-history EMA(N) to
 * {@link CONVERGENCE_TOLERANCE}: N candles for the SMA seed, then the decay of the seed's error by
 * (1 − k) per candle, k = 2/(N + 1). EMA(9): 9 + 124 = 133.
 */
export function emaConvergenceCandles(period: number): number {
  return period === 1 ? 1 : period + decayCandles(1 - 2 / (period + 1));
}

/**
 * Candles after which a Wilder ATR(N) seeded anywhere agrees with the full-history ATR(N) to
 * {@link CONVERGENCE_TOLERANCE}: N + 1 candles for the seed (a previous close, then N true
 * ranges), then the decay of the seed's error by (N − 1)/N per candle. ATR(14): 15 + 373 = 388.
 */
export function atrConvergenceCandles(period: number): number {
  return period === 1 ? 2 : period + 1 + decayCandles((period - 1) / period);
}

/**
 * Where the indicators of a stream start computing, fixed by the calendar so that every process,
 * whenever it started, computes bit-identical values for the same candle.
 *
 * EMA and ATR never reset, so a value depends on every candle before it; computed from wherever a
 * process's history happened to begin, it would differ between processes. Instead the candle grid
 * of an interval (see {@link candleIndexOf}) is cut into epochs of `epochCandles` candles (at 1m,
 * the UTC days), and the EMA and ATR of the candles of epoch e are those of a chain seeded at the
 * chain start of e: `warmupCandles` candles before the epoch's first candle (never before the
 * Unix epoch, where a market's history begins anyway). Two chains overlap for `warmupCandles`
 * candles before each epoch boundary; by the boundary the new one has converged
 * ({@link CONVERGENCE_TOLERANCE}), so values agree with a computation over the full history to
 * 1e-9, while being the same in every process, bit for bit. The anchored VWAP resets at its anchor
 * period's start, a calendar instant already.
 */
export class SeriesOrigin {
  /** Candles a chain runs before its epoch starts: enough for both the EMA and the ATR to converge. */
  readonly warmupCandles: number;
  /** Candles per epoch: a multiple of {@link EPOCH_CANDLES} at least `warmupCandles` long. */
  readonly epochCandles: number;

  constructor(emaPeriod: number, atrPeriod: number) {
    this.warmupCandles = Math.max(emaConvergenceCandles(emaPeriod), atrConvergenceCandles(atrPeriod));
    this.epochCandles = EPOCH_CANDLES * Math.max(1, Math.ceil(this.warmupCandles / EPOCH_CANDLES));
  }

  /** The epoch of the candle opening at `openTimeMs`. */
  epochOf(interval: Interval, openTimeMs: number): number {
    return Math.floor(candleIndexOf(interval, openTimeMs) / this.epochCandles);
  }

  /** Open time of the first candle of `epoch`. */
  epochStartMs(interval: Interval, epoch: number): number {
    return openTimeOfCandleIndex(interval, epoch * this.epochCandles);
  }

  /** Open time at which the chain of `epoch` starts (0 when that is before the Unix epoch). */
  chainStartMs(interval: Interval, epoch: number): number {
    return Math.max(0, openTimeOfCandleIndex(interval, epoch * this.epochCandles - this.warmupCandles));
  }

  /**
   * The first open time a process must compute from so that every point from the candle opening
   * at `firstPointMs` on is exact: the chain start of the epoch of that candle's VWAP period start
   * (or of the candle itself without an anchor). The VWAP period, and the rubberband's arming that
   * resets with it, then start inside the computed range, and so does every chain they read.
   */
  computeFromMs(interval: Interval, anchor: VwapAnchor, firstPointMs: number): number {
    const periodStart = vwapAnchorStartMs(anchor, firstPointMs);
    const from = Number.isFinite(periodStart) ? periodStart : firstPointMs;
    return this.chainStartMs(interval, this.epochOf(interval, from));
  }
}
