import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CandleHistory } from './candle-history.js';
import { BLOCK_MS, MarketModel, type SimTrade } from './market-model.js';

const ORIGIN = Date.UTC(2025, 0, 1);
const HOUR = 3_600_000;

function model(seed = 'test-seed'): MarketModel {
  return new MarketModel({ seed, originMs: ORIGIN });
}

describe('MarketModel determinism', () => {
  it('gives the same trades for the same seed and origin', () => {
    const a = model()
      .symbol('BTCUSDT')
      .trades(ORIGIN + HOUR, ORIGIN + 2 * HOUR);
    const b = model()
      .symbol('BTCUSDT')
      .trades(ORIGIN + HOUR, ORIGIN + 2 * HOUR);
    expect(a.length).toBeGreaterThan(1000);
    expect(b).toEqual(a);
  });

  it('gives different trades for a different seed', () => {
    const a = model('one')
      .symbol('BTCUSDT')
      .trades(ORIGIN, ORIGIN + 10 * BLOCK_MS);
    const b = model('two')
      .symbol('BTCUSDT')
      .trades(ORIGIN, ORIGIN + 10 * BLOCK_MS);
    expect(a.map((t) => t.priceTicks)).not.toEqual(b.map((t) => t.priceTicks));
  });

  it('does not depend on how the time range is chunked or in which order blocks are generated', () => {
    const from = ORIGIN + 5 * BLOCK_MS + 1_234;
    const to = ORIGIN + 25 * BLOCK_MS + 777;
    const whole = model().symbol('ETHUSDT').trades(from, to);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: from + 1, max: to - 1 }), { maxLength: 12 }), (cuts) => {
        const bounds = [from, ...cuts.sort((x, y) => x - y), to];
        const fresh = model().symbol('ETHUSDT');
        // Ask for the latest chunk first so the generator cannot rely on having seen earlier blocks.
        const parts: SimTrade[][] = [];
        for (let i = bounds.length - 2; i >= 0; i--) {
          parts[i] = fresh.trades(bounds[i] ?? 0, bounds[i + 1] ?? 0);
        }
        expect(parts.flat()).toEqual(whole);
      }),
      { numRuns: 25 },
    );
  });

  it('numbers trades and aggregate trades contiguously across blocks, on tick and lot grids', () => {
    const trades = model()
      .symbol('BNBBTC')
      .trades(ORIGIN, ORIGIN + 6 * HOUR);
    expect(trades.length).toBeGreaterThan(100);
    for (let i = 1; i < trades.length; i++) {
      const prev = trades[i - 1];
      const cur = trades[i];
      if (!prev || !cur) throw new Error('missing trade');
      expect(cur.tradeId).toBe(prev.tradeId + 1);
      expect(cur.aggId - prev.aggId === 0 || cur.aggId - prev.aggId === 1).toBe(true);
      expect(cur.timeMs).toBeGreaterThanOrEqual(prev.timeMs);
      if (cur.aggId === prev.aggId) {
        expect(cur.priceTicks).toBe(prev.priceTicks);
        expect(cur.timeMs).toBe(prev.timeMs);
      }
    }
    for (const t of trades) {
      expect(Number.isInteger(t.priceTicks) && t.priceTicks > 0).toBe(true);
      expect(Number.isInteger(t.qtyLots) && t.qtyLots >= 1).toBe(true);
    }
  });

  it('has no data before the origin', () => {
    expect(
      model()
        .symbol('BTCUSDT')
        .trades(ORIGIN - HOUR, ORIGIN),
    ).toEqual([]);
    expect(
      model()
        .symbol('BTCUSDT')
        .blockInfo(ORIGIN / BLOCK_MS - 1),
    ).toBeNull();
  });

  it('serves symbols it has no defaults for', () => {
    const market = model().symbol('SOLUSDT');
    expect(market.spec.baseAsset).toBe('SOL');
    expect(market.spec.quoteAsset).toBe('USDT');
    expect(market.trades(ORIGIN, ORIGIN + HOUR).length).toBeGreaterThan(100);
  });
});

/** EMA(9) of closes and Wilder ATR(14), computed locally and simply. */
function stretches(closes: number[], highs: number[], lows: number[]): number[] {
  const out: number[] = [];
  let ema = closes[0] ?? 0;
  let atr = 0;
  for (let i = 1; i < closes.length; i++) {
    const c = closes[i] ?? 0;
    const prevClose = closes[i - 1] ?? 0;
    const tr = Math.max(
      (highs[i] ?? 0) - (lows[i] ?? 0),
      Math.abs((highs[i] ?? 0) - prevClose),
      Math.abs((lows[i] ?? 0) - prevClose),
    );
    atr = i <= 14 ? atr + (tr - atr) / i : (atr * 13 + tr) / 14;
    ema = ema + (2 / 10) * (c - ema);
    out.push(i > 20 && atr > 0 ? Math.abs(c - ema) / atr : 0);
  }
  return out;
}

describe('MarketModel dynamics', () => {
  const history = new CandleHistory(model('dynamics').symbol('BTCUSDT'));
  const now = ORIGIN + 1000 * BLOCK_MS;
  const candles = history.candles('1m', ORIGIN, now - BLOCK_MS, now, 1000);

  it('stretches price more than 2 ATR from its 9-EMA and snaps back', () => {
    expect(candles).toHaveLength(1000);
    const closes = candles.map((c) => c.totals.closeTicks);
    const s = stretches(
      closes,
      candles.map((c) => c.totals.highTicks),
      candles.map((c) => c.totals.lowTicks),
    );
    const stretched = s.map((v, i) => (v > 2 ? i : -1)).filter((i) => i >= 0);
    expect(stretched.length).toBeGreaterThan(0);
    // Most stretches revert: within 15 candles the distance is back under 1 ATR.
    const reverted = stretched.filter((i) => s.slice(i + 1, i + 16).some((v) => v < 1));
    expect(reverted.length / stretched.length).toBeGreaterThan(0.8);
  });

  it('has quiet and busy minutes', () => {
    const counts = candles.map((c) => c.totals.trades);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    const sd = Math.sqrt(counts.reduce((a, b) => a + (b - mean) ** 2, 0) / counts.length);
    expect(sd / mean).toBeGreaterThan(0.3);
    expect(Math.max(...counts)).toBeGreaterThan(2.5 * mean);
  });
});
