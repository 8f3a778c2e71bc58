import type { WireIndicatorPoint } from '@visualgo/contracts/algo';

/** Whether each side of the rubberband can fire, as derived from the final points held. */
export interface ArmingState {
  readonly overbought: SideArming;
  readonly oversold: SideArming;
}

export interface SideArming {
  readonly armed: boolean;
  /** Open time of the last candle on which this side fired, among the points held. */
  readonly lastFiredMs: number | null;
}

/**
 * Replays trading-algo's re-arm rule over the final points (packages/market/src/rubberband.ts):
 * a side that fired stays disarmed until a closed candle has |stretch| < K/2 or starts a new VWAP
 * anchor period. Both sides are taken as armed before the first point held: a page that holds only
 * the last few hundred candles cannot know more, and trading-algo re-arms within a few candles of
 * calm anyway. `anchorOf` gives a point's anchor period start (null: unknown, never a reset).
 */
export function deriveArming(
  finals: readonly WireIndicatorPoint[],
  k: number,
  anchorOf: (p: WireIndicatorPoint) => number | null = () => null,
): ArmingState {
  let up = true;
  let down = true;
  let upFired: number | null = null;
  let downFired: number | null = null;
  let anchor: number | null = null;
  for (const p of finals) {
    const a = anchorOf(p);
    if (a !== null && anchor !== null && a !== anchor) {
      up = true;
      down = true;
    }
    if (a !== null) anchor = a;
    if (p.stretch !== null && Math.abs(p.stretch) < k / 2) {
      up = true;
      down = true;
    }
    if (p.signal === 'overbought') {
      up = false;
      upFired = p.openTimeMs;
    } else if (p.signal === 'oversold') {
      down = false;
      downFired = p.openTimeMs;
    }
  }
  return {
    overbought: { armed: up, lastFiredMs: upFired },
    oversold: { armed: down, lastFiredMs: downFired },
  };
}
