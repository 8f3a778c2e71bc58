import type { Candle } from './candle.js';
import { assertFinite, assertPeriod, type StreamingIndicator } from './indicator.js';

/** The default ATR period of the trading algorithm (`ATR_PERIOD`). */
export const DEFAULT_ATR_PERIOD = 14;

/** The part of a candle the ATR reads. */
export type AtrInput = Pick<Candle, 'high' | 'low' | 'close'>;

/**
 * True range of a candle given the previous close: max(h − l, |h − c₋₁|, |l − c₋₁|).
 * Without a previous close it is undefined (TA-Lib's `TA_TRANGE` has a lookback of 1).
 */
export function trueRange(high: number, low: number, previousClose: number): number {
  let greatest = high - low;
  const toHigh = Math.abs(previousClose - high);
  if (toHigh > greatest) greatest = toHigh;
  const toLow = Math.abs(previousClose - low);
  if (toLow > greatest) greatest = toLow;
  return greatest;
}

/**
 * Average true range with Wilder's smoothing, TA-Lib convention (`TA_ATR`, unstable period 0).
 *
 * The first candle only supplies a previous close, so true ranges TR₁, TR₂, … start at the second
 * candle. The first ATR, at candle index N (the (N+1)-th candle), is (TR₁ + … + TR_N) / N; after
 * that ATR ← (ATR·(N − 1) + TR) / N, in that operation order, as TA-Lib does. `null` before N + 1
 * candles. With N = 1 this is the true range itself, as in TA-Lib.
 *
 * The `technicalindicators` package's `ATR` has the same warm-up and seed; it smooths as
 * ATR + (TR − ATR)·(1/N), which is the same value up to rounding (about 1e-15 relative).
 */
/** Everything an {@link Atr} holds, as plain data ({@link Atr.saveState}). */
export interface AtrState {
  readonly count: number;
  readonly lastClose: number;
  readonly seedSum: number;
  readonly value: number | null;
  readonly prevCount: number;
  readonly prevLastClose: number;
  readonly prevSeedSum: number;
  readonly prevValue: number | null;
}

export class Atr implements StreamingIndicator<AtrInput> {
  readonly period: number;

  private count = 0;
  private lastClose = 0;
  /** Sum of the true ranges while warming up; unused afterwards. */
  private seedSum = 0;
  private value: number | null = null;

  // State before the last `add`, restored by `replace`.
  private prevCount = 0;
  private prevLastClose = 0;
  private prevSeedSum = 0;
  private prevValue: number | null = null;

  constructor(period: number = DEFAULT_ATR_PERIOD) {
    assertPeriod('ATR period', period);
    this.period = period;
  }

  get isStable(): boolean {
    return this.value !== null;
  }

  getResult(): number | null {
    return this.value;
  }

  add(candle: AtrInput): number | null {
    checkInput(candle);
    this.prevCount = this.count;
    this.prevLastClose = this.lastClose;
    this.prevSeedSum = this.seedSum;
    this.prevValue = this.value;
    if (this.count > 0) {
      const tr = trueRange(candle.high, candle.low, this.lastClose);
      this.value = this.next(this.count, this.seedSum, this.value, tr);
      if (this.count <= this.period) this.seedSum += tr;
    }
    this.lastClose = candle.close;
    this.count += 1;
    return this.value;
  }

  replace(candle: AtrInput): number | null {
    if (this.count === 0) return this.add(candle);
    checkInput(candle);
    this.count = this.prevCount;
    this.lastClose = this.prevLastClose;
    this.seedSum = this.prevSeedSum;
    this.value = this.prevValue;
    return this.add(candle);
  }

  preview(candle: AtrInput): number | null {
    checkInput(candle);
    if (this.count === 0) return null;
    return this.next(
      this.count,
      this.seedSum,
      this.value,
      trueRange(candle.high, candle.low, this.lastClose),
    );
  }

  /** `count` candles are committed, so `tr` is the true range number `count`. */
  /** The whole state, as plain data: restored into an ATR of the same period, it continues bit for bit. */
  saveState(): AtrState {
    const { count, lastClose, seedSum, value, prevCount, prevLastClose, prevSeedSum, prevValue } = this;
    return { count, lastClose, seedSum, value, prevCount, prevLastClose, prevSeedSum, prevValue };
  }

  /** Takes over a state from {@link saveState} (of an ATR with the same period). */
  restoreState(state: AtrState): void {
    this.count = state.count;
    this.lastClose = state.lastClose;
    this.seedSum = state.seedSum;
    this.value = state.value;
    this.prevCount = state.prevCount;
    this.prevLastClose = state.prevLastClose;
    this.prevSeedSum = state.prevSeedSum;
    this.prevValue = state.prevValue;
  }

  private next(count: number, seedSum: number, value: number | null, tr: number): number | null {
    if (value !== null) return (value * (this.period - 1) + tr) / this.period;
    if (count < this.period) return null;
    return (seedSum + tr) / this.period;
  }
}

function checkInput(candle: AtrInput): void {
  assertFinite('ATR high', candle.high);
  assertFinite('ATR low', candle.low);
  assertFinite('ATR close', candle.close);
}
