import type { WireIndicatorPoint } from '@visualgo/contracts/algo';

export type SignalSide = 'overbought' | 'oversold';

/** A rubberband signal and what the price did in the candles after it. */
export interface SignalOutcome {
  readonly openTimeMs: number;
  readonly side: SignalSide;
  readonly close: number;
  readonly stretch: number | null;
  /** Closed candles after the signal that were looked at: min(horizon, what exists so far). */
  readonly candlesAfter: number;
  readonly horizon: number;
  /** Close of the last candle looked at, relative to the signal's close, in percent; null before any. */
  readonly changePct: number | null;
  /**
   * The best move in the signal's direction (down after overbought, up after oversold) within those
   * candles, from their lows/highs, in percent of the signal's close; null before any.
   */
  readonly bestPct: number | null;
  /** The worst move against it (up after overbought, down after oversold), in percent. */
  readonly worstPct: number | null;
  /** Whether the close moved the way the signal expects (mean reversion); null before any candle. */
  readonly reverted: boolean | null;
}

/**
 * The most recent `limit` signals among final points (newest first), each with what the price did
 * in the `horizon` closed candles after it. O(points) per call; the caller recomputes only when the
 * final points change.
 */
export function signalOutcomes(
  finals: readonly WireIndicatorPoint[],
  horizon: number,
  limit: number,
): SignalOutcome[] {
  const out: SignalOutcome[] = [];
  for (let i = finals.length - 1; i >= 0 && out.length < limit; i--) {
    const p = finals[i];
    if (!p || p.signal === 'none') continue;
    const side = p.signal;
    const end = Math.min(finals.length - 1, i + horizon);
    let high = Number.NEGATIVE_INFINITY;
    let low = Number.POSITIVE_INFINITY;
    for (let j = i + 1; j <= end; j++) {
      const q = finals[j];
      if (!q) continue;
      if (q.high > high) high = q.high;
      if (q.low < low) low = q.low;
    }
    const after = end - i;
    const lastClose = after > 0 ? finals[end]?.close : undefined;
    const pct = (x: number) => ((x - p.close) / p.close) * 100;
    const changePct = lastClose === undefined ? null : pct(lastClose);
    const down = side === 'overbought';
    out.push({
      openTimeMs: p.openTimeMs,
      side,
      close: p.close,
      stretch: p.stretch,
      candlesAfter: after,
      horizon,
      changePct,
      bestPct: after > 0 ? (down ? pct(low) : pct(high)) : null,
      worstPct: after > 0 ? (down ? pct(high) : pct(low)) : null,
      reverted: changePct === null ? null : down ? changePct < 0 : changePct > 0,
    });
  }
  return out;
}
