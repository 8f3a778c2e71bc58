/**
 * Test support: the indicators of the default configuration (EMA 9, ATR 14, hlc3 VWAP anchored as
 * given, K = 2) computed independently of packages/market, over a whole candle series: EMA and
 * ATR by the technicalindicators package, the VWAP and its σ by plain running sums, and the
 * rubberband rule written out again. What the service computes is compared with this.
 */
import { type Candle, type VwapAnchor, vwapAnchorStartMs } from '@visualgo/market';
import { ATR as ReferenceAtr, EMA as ReferenceEma } from 'technicalindicators';

export interface ReferencePoint {
  readonly ema: number;
  readonly atr: number;
  readonly vwap: number;
  readonly sigma: number;
  readonly signal: 'overbought' | 'oversold' | 'none';
}

/** Independent indicators over the market's whole history, keyed by open time. */
export function referenceIndicators(
  candles: readonly Candle[],
  anchor: VwapAnchor,
): Map<number, ReferencePoint> {
  const closes = candles.map((c) => c.close);
  const ema = ReferenceEma.calculate({ period: 9, values: closes });
  const atr = ReferenceAtr.calculate({
    period: 14,
    high: candles.map((c) => c.high),
    low: candles.map((c) => c.low),
    close: closes,
  });
  const out = new Map<number, ReferencePoint>();
  let period = Number.NaN;
  let v = 0;
  let pv = 0;
  let p2v = 0;
  let armedUp = true;
  let armedDown = true;
  for (const [i, c] of candles.entries()) {
    const start = vwapAnchorStartMs(anchor, c.openTimeMs);
    if (start !== period) {
      period = start;
      v = 0;
      pv = 0;
      p2v = 0;
      armedUp = true;
      armedDown = true;
    }
    const p = (c.high + c.low + c.close) / 3;
    v += c.volume;
    pv += p * c.volume;
    p2v += p * p * c.volume;
    const vwap = pv / v;
    const sigma = Math.sqrt(Math.max(0, p2v / v - vwap * vwap));
    const e = ema[i - 8];
    const a = atr[i - 14];
    if (e === undefined || a === undefined) continue;
    const s = (c.close - e) / a;
    if (Math.abs(s) < 1) {
      armedUp = true;
      armedDown = true;
    }
    let signal: ReferencePoint['signal'] = 'none';
    if (s >= 2 && c.close > vwap && armedUp) {
      signal = 'overbought';
      armedUp = false;
    } else if (s <= -2 && c.close < vwap && armedDown) {
      signal = 'oversold';
      armedDown = false;
    }
    out.set(c.openTimeMs, { ema: e, atr: a, vwap, sigma, signal });
  }
  return out;
}
