import { assertFinite, assertPeriod, type StreamingIndicator } from './indicator.js';

/** The default EMA period of the trading algorithm (`EMA_PERIOD`). */
export const DEFAULT_EMA_PERIOD = 9;

/**
 * Exponential moving average of a series (closes, in the trading algorithm).
 *
 * With k = 2 / (N + 1): the first value, at the N-th input, is the simple average of the first N
 * inputs; after that e ← (x − e)·k + e. `null` before N inputs.
 *
 * Matches TA-Lib's `TA_EMA` in its default compatibility mode (SMA seed, same operation order, so
 * the same doubles) and the `technicalindicators` package's `EMA`, which also seeds with the SMA.
 */
/** Everything an {@link Ema} holds, as plain data ({@link Ema.saveState}). */
export interface EmaState {
  readonly count: number;
  readonly seedSum: number;
  readonly value: number | null;
  readonly prevCount: number;
  readonly prevSeedSum: number;
  readonly prevValue: number | null;
}

export class Ema implements StreamingIndicator<number> {
  readonly period: number;
  private readonly k: number;

  private count = 0;
  /** Running sum of the inputs while warming up; unused afterwards. */
  private seedSum = 0;
  private value: number | null = null;

  // State before the last `add`, restored by `replace`.
  private prevCount = 0;
  private prevSeedSum = 0;
  private prevValue: number | null = null;

  constructor(period: number = DEFAULT_EMA_PERIOD) {
    assertPeriod('EMA period', period);
    this.period = period;
    this.k = 2 / (period + 1);
  }

  get isStable(): boolean {
    return this.value !== null;
  }

  getResult(): number | null {
    return this.value;
  }

  add(x: number): number | null {
    assertFinite('EMA input', x);
    this.prevCount = this.count;
    this.prevSeedSum = this.seedSum;
    this.prevValue = this.value;
    this.value = this.next(this.count, this.seedSum, this.value, x);
    if (this.count < this.period) this.seedSum += x;
    this.count += 1;
    return this.value;
  }

  replace(x: number): number | null {
    if (this.count === 0) return this.add(x);
    assertFinite('EMA input', x);
    this.count = this.prevCount;
    this.seedSum = this.prevSeedSum;
    this.value = this.prevValue;
    return this.add(x);
  }

  preview(x: number): number | null {
    assertFinite('EMA input', x);
    return this.next(this.count, this.seedSum, this.value, x);
  }

  /** The whole state, as plain data: restored into an EMA of the same period, it continues bit for bit. */
  saveState(): EmaState {
    const { count, seedSum, value, prevCount, prevSeedSum, prevValue } = this;
    return { count, seedSum, value, prevCount, prevSeedSum, prevValue };
  }

  /** Takes over a state from {@link saveState} (of an EMA with the same period). */
  restoreState(state: EmaState): void {
    this.count = state.count;
    this.seedSum = state.seedSum;
    this.value = state.value;
    this.prevCount = state.prevCount;
    this.prevSeedSum = state.prevSeedSum;
    this.prevValue = state.prevValue;
  }

  private next(count: number, seedSum: number, value: number | null, x: number): number | null {
    if (value !== null) return (x - value) * this.k + value;
    if (count + 1 < this.period) return null;
    return (seedSum + x) / this.period;
  }
}
