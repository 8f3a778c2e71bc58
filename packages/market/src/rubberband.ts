import { assertFinite, type StreamingIndicator } from './indicator.js';

/** The default stretch threshold K of the trading algorithm (`RUBBERBAND_K`). */
export const DEFAULT_RUBBERBAND_K = 2;

export type RubberbandSignal = 'overbought' | 'oversold' | 'none';

/** One closed (or, for a preview, open) candle as the rubberband sees it. */
export interface RubberbandInput {
  readonly close: number;
  /** EMA of closes including this candle. */
  readonly ema: number | null;
  /** ATR including this candle. */
  readonly atr: number | null;
  /** Anchored VWAP including this candle. */
  readonly vwap: number | null;
  /** Start of the VWAP anchor period of this candle ({@link vwapAnchorStartMs}); a change re-arms. */
  readonly anchorStartMs: number;
}

/** s = (close − EMA)/ATR, or null when the EMA or ATR is missing or the ATR is not positive. */
export function rubberbandStretch(close: number, ema: number | null, atr: number | null): number | null {
  if (ema === null || atr === null || !(atr > 0)) return null;
  return (close - ema) / atr;
}

/**
 * The rubberband mean-reversion signal: how far the close is stretched from its EMA, in ATRs,
 * confirmed by the side of the VWAP it closed on.
 *
 * With s = (close − EMA)/ATR and threshold K (inclusive):
 * - `overbought` when s ≥ +K and close > VWAP,
 * - `oversold` when s ≤ −K and close < VWAP,
 * - `none` otherwise, and whenever s is null (EMA or ATR not warmed up, ATR = 0) or VWAP is null.
 *
 * VWAP confirms the stretch: a close far above its EMA but still below the VWAP is not over-valued
 * by the volume-weighted measure, so it gives no signal (the seed's first README example said
 * otherwise, contradicting its own rule; this is the consistent form). Worked example, K = 2:
 * EMA 100, ATR 2, VWAP 101 and close 104.5 give s = 2.25 ≥ 2 above the VWAP: `overbought`. The same
 * candle with VWAP 105 gives `none`.
 *
 * Re-arm: once a side has fired it stays disarmed until a committed candle has |s| < K/2 or starts
 * a new VWAP anchor period; each side is armed independently, and a candle that re-arms is evaluated
 * after re-arming. Signals are decided only by `add` (closed candles); `previewSignal` evaluates an
 * open candle against the committed arming without changing it.
 *
 * `getResult()` is the stretch of the last committed candle, `getSignal()` its signal. There is no
 * external reference for this indicator; it is specified by the trading-algo issue.
 */
/** Everything a {@link Rubberband} holds, as plain data ({@link Rubberband.saveState}). */
export interface RubberbandState {
  readonly count: number;
  readonly stretch: number | null;
  readonly signal: RubberbandSignal;
  readonly armedUp: boolean;
  readonly armedDown: boolean;
  /** NaN before the first candle. */
  readonly anchorStartMs: number;
  readonly prevCount: number;
  readonly prevStretch: number | null;
  readonly prevSignal: RubberbandSignal;
  readonly prevArmedUp: boolean;
  readonly prevArmedDown: boolean;
  readonly prevAnchorStartMs: number;
}

export class Rubberband implements StreamingIndicator<RubberbandInput> {
  readonly k: number;

  private count = 0;
  private stretch: number | null = null;
  private signal: RubberbandSignal = 'none';
  private armedUp = true;
  private armedDown = true;
  private anchorStartMs = Number.NaN;

  // State before the last `add`, restored by `replace`.
  private prevCount = 0;
  private prevStretch: number | null = null;
  private prevSignal: RubberbandSignal = 'none';
  private prevArmedUp = true;
  private prevArmedDown = true;
  private prevAnchorStartMs = Number.NaN;

  constructor(k: number = DEFAULT_RUBBERBAND_K) {
    if (!Number.isFinite(k) || k <= 0) throw new RangeError(`rubberband K must be > 0, got ${k}`);
    this.k = k;
  }

  get isStable(): boolean {
    return this.stretch !== null;
  }

  getResult(): number | null {
    return this.stretch;
  }

  /** Signal of the last committed candle. */
  getSignal(): RubberbandSignal {
    return this.signal;
  }

  /** Whether `overbought` may fire on the next candle, before that candle's own re-arming. */
  get overboughtArmed(): boolean {
    return this.armedUp;
  }

  /** Whether `oversold` may fire on the next candle, before that candle's own re-arming. */
  get oversoldArmed(): boolean {
    return this.armedDown;
  }

  add(x: RubberbandInput): number | null {
    checkInput(x);
    const s = rubberbandStretch(x.close, x.ema, x.atr);
    const signal = this.evaluate(x, s);
    const rearm = this.rearms(x, s);
    this.prevCount = this.count;
    this.prevStretch = this.stretch;
    this.prevSignal = this.signal;
    this.prevArmedUp = this.armedUp;
    this.prevArmedDown = this.armedDown;
    this.prevAnchorStartMs = this.anchorStartMs;
    if (rearm) {
      this.armedUp = true;
      this.armedDown = true;
    }
    if (signal === 'overbought') this.armedUp = false;
    if (signal === 'oversold') this.armedDown = false;
    this.stretch = s;
    this.signal = signal;
    this.anchorStartMs = x.anchorStartMs;
    this.count += 1;
    return s;
  }

  replace(x: RubberbandInput): number | null {
    if (this.count === 0) return this.add(x);
    checkInput(x);
    this.count = this.prevCount;
    this.stretch = this.prevStretch;
    this.signal = this.prevSignal;
    this.armedUp = this.prevArmedUp;
    this.armedDown = this.prevArmedDown;
    this.anchorStartMs = this.prevAnchorStartMs;
    return this.add(x);
  }

  preview(x: RubberbandInput): number | null {
    checkInput(x);
    return rubberbandStretch(x.close, x.ema, x.atr);
  }

  /** The signal `add(x)` would decide, leaving the arming untouched. */
  previewSignal(x: RubberbandInput): RubberbandSignal {
    checkInput(x);
    return this.evaluate(x, rubberbandStretch(x.close, x.ema, x.atr));
  }

  /** The whole state, as plain data: restored into a rubberband of the same K, it continues exactly. */
  saveState(): RubberbandState {
    return {
      count: this.count,
      stretch: this.stretch,
      signal: this.signal,
      armedUp: this.armedUp,
      armedDown: this.armedDown,
      anchorStartMs: this.anchorStartMs,
      prevCount: this.prevCount,
      prevStretch: this.prevStretch,
      prevSignal: this.prevSignal,
      prevArmedUp: this.prevArmedUp,
      prevArmedDown: this.prevArmedDown,
      prevAnchorStartMs: this.prevAnchorStartMs,
    };
  }

  /** Takes over a state from {@link saveState} (of a rubberband with the same K). */
  restoreState(state: RubberbandState): void {
    this.count = state.count;
    this.stretch = state.stretch;
    this.signal = state.signal;
    this.armedUp = state.armedUp;
    this.armedDown = state.armedDown;
    this.anchorStartMs = state.anchorStartMs;
    this.prevCount = state.prevCount;
    this.prevStretch = state.prevStretch;
    this.prevSignal = state.prevSignal;
    this.prevArmedUp = state.prevArmedUp;
    this.prevArmedDown = state.prevArmedDown;
    this.prevAnchorStartMs = state.prevAnchorStartMs;
  }

  private rearms(x: RubberbandInput, s: number | null): boolean {
    const newPeriod = this.count > 0 && x.anchorStartMs !== this.anchorStartMs;
    return newPeriod || (s !== null && Math.abs(s) < this.k / 2);
  }

  private evaluate(x: RubberbandInput, s: number | null): RubberbandSignal {
    if (s === null || x.vwap === null) return 'none';
    const rearm = this.rearms(x, s);
    if (s >= this.k && x.close > x.vwap && (rearm || this.armedUp)) return 'overbought';
    if (s <= -this.k && x.close < x.vwap && (rearm || this.armedDown)) return 'oversold';
    return 'none';
  }
}

function checkInput(x: RubberbandInput): void {
  assertFinite('rubberband close', x.close);
  if (x.ema !== null) assertFinite('rubberband EMA', x.ema);
  if (x.atr !== null) assertFinite('rubberband ATR', x.atr);
  if (x.vwap !== null) assertFinite('rubberband VWAP', x.vwap);
  // −∞ is the single period of an unanchored VWAP; NaN would never compare equal.
  if (Number.isNaN(x.anchorStartMs)) throw new RangeError('rubberband anchorStartMs must be a number');
}
