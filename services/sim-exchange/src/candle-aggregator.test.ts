import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CandleAccumulator, type CandleTotals, mergeTotals } from './candle-aggregator.js';
import { CandleHistory } from './candle-history.js';
import { formatScaled } from './fixed-point.js';
import { BLOCK_MS, MarketModel } from './market-model.js';

interface T {
  price: number;
  qty: number;
  buyerIsMaker: boolean;
}

const tradeArb = fc.record({
  price: fc.integer({ min: 1, max: 20_000_000 }),
  qty: fc.integer({ min: 1, max: 400_000 }),
  buyerIsMaker: fc.boolean(),
});

function accumulate(trades: readonly T[], firstId: number, lastPrice = 1): CandleTotals {
  const acc = new CandleAccumulator(lastPrice);
  trades.forEach((t, i) => {
    acc.add(firstId + i, t.price, t.qty, t.buyerIsMaker);
  });
  return acc.totals();
}

function checkInvariants(c: CandleTotals): void {
  expect(c.lowTicks).toBeLessThanOrEqual(Math.min(c.openTicks, c.closeTicks));
  expect(c.highTicks).toBeGreaterThanOrEqual(Math.max(c.openTicks, c.closeTicks));
  // VWAP = q / v lies within [low, high]: low·v <= q <= high·v, exactly.
  expect(c.quoteUnits).toBeGreaterThanOrEqual(BigInt(c.lowTicks) * BigInt(c.volumeLots));
  expect(c.quoteUnits).toBeLessThanOrEqual(BigInt(c.highTicks) * BigInt(c.volumeLots));
  expect(c.takerBuyLots).toBeLessThanOrEqual(c.volumeLots);
  expect(c.takerBuyQuoteUnits).toBeLessThanOrEqual(c.quoteUnits);
  if (c.trades > 0) expect(c.lastTradeId - c.firstTradeId + 1).toBe(c.trades);
  else expect([c.firstTradeId, c.lastTradeId]).toEqual([-1, -1]);
}

describe('CandleAccumulator', () => {
  it('derives OHLC, volumes, counts and ids from trades', () => {
    const c = accumulate(
      [
        { price: 100, qty: 2, buyerIsMaker: false },
        { price: 105, qty: 1, buyerIsMaker: true },
        { price: 98, qty: 3, buyerIsMaker: false },
        { price: 101, qty: 4, buyerIsMaker: true },
      ],
      500,
    );
    expect(c).toEqual({
      openTicks: 100,
      highTicks: 105,
      lowTicks: 98,
      closeTicks: 101,
      volumeLots: 10,
      quoteUnits: 200n + 105n + 294n + 404n,
      takerBuyLots: 5,
      takerBuyQuoteUnits: 200n + 294n,
      trades: 4,
      firstTradeId: 500,
      lastTradeId: 503,
    });
  });

  it('reports an empty candle at the previous price with ids of -1', () => {
    const c = accumulate([], 1, 4242);
    expect(c).toMatchObject({
      openTicks: 4242,
      closeTicks: 4242,
      trades: 0,
      firstTradeId: -1,
      volumeLots: 0,
    });
  });

  it('keeps candle invariants for any trades', () => {
    fc.assert(
      fc.property(
        fc.array(tradeArb, { maxLength: 300 }),
        fc.integer({ min: 0, max: 1e12 }),
        (trades, firstId) => {
          checkInvariants(accumulate(trades, firstId));
        },
      ),
    );
  });

  it('merging candles of consecutive parts equals the candle of the whole', () => {
    fc.assert(
      fc.property(
        fc.array(tradeArb, { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (trades, rawCuts) => {
          const cuts = [...new Set(rawCuts.map((c) => c % (trades.length + 1)))].sort((a, b) => a - b);
          const bounds = [0, ...cuts, trades.length];
          let merged: CandleTotals | null = null;
          for (let i = 0; i + 1 < bounds.length; i++) {
            const from = bounds[i] ?? 0;
            const part = accumulate(trades.slice(from, bounds[i + 1]), 7 + from);
            merged = merged ? mergeTotals(merged, part) : part;
          }
          const whole = accumulate(trades, 7);
          if (trades.length === 0) expect(merged?.trades).toBe(0);
          else expect(merged).toEqual(whole);
        },
      ),
    );
  });
});

describe('CandleHistory', () => {
  const origin = Date.UTC(2025, 2, 3);
  const market = new MarketModel({ seed: 'candles', originMs: origin }).symbol('BTCUSDT');
  const history = new CandleHistory(market);
  const now = origin + 3 * 3_600_000 + 20 * 60_000 + 12_345;

  it('builds every candle of every interval from the trades, with contiguous ids', () => {
    for (const interval of ['1s', '1m', '5m', '15m', '1h'] as const) {
      const candles = history.candles(interval, origin + 600_000, now, now, 200);
      expect(candles.length).toBeGreaterThan(2);
      for (const c of candles) {
        checkInvariants(c.totals);
        const trades = market.trades(c.openTimeMs, Math.min(c.closeTimeMs + 1, now));
        const acc = new CandleAccumulator(0);
        for (const t of trades) acc.add(t.tradeId, t.priceTicks, t.qtyLots, t.buyerIsMaker);
        const expected = acc.totals();
        if (expected.trades > 0) expect(c.totals).toEqual(expected);
        else expect(c.totals.trades).toBe(0);
      }
      for (let i = 1; i < candles.length; i++) {
        const prev = candles[i - 1]?.totals;
        const cur = candles[i]?.totals;
        if (prev && cur && prev.trades > 0 && cur.trades > 0)
          expect(cur.firstTradeId).toBe(prev.lastTradeId + 1);
      }
    }
  });

  it('starts at the first candle opening at or after the start and marks only ended ones closed', () => {
    const candles = history.candles('1m', now - 5 * BLOCK_MS, now, now, 10);
    expect(candles[0]?.openTimeMs).toBe(now - 5 * BLOCK_MS - (now % BLOCK_MS) + BLOCK_MS);
    expect(candles.map((c) => c.closed)).toEqual([true, true, true, true, false]);
  });

  it('an open candle read later has grown from its earlier state', () => {
    const open = now - (now % 3_600_000);
    const early = history.candle('1h', open, now - 30_000).totals;
    const late = history.candle('1h', open, now).totals;
    expect(late.trades).toBeGreaterThan(early.trades);
    expect(late.firstTradeId).toBe(early.firstTradeId);
    expect(late.openTicks).toBe(early.openTicks);
  });
});

describe('formatScaled', () => {
  it('formats integers of 10^-scale units with eight decimals, rounding extra places half up', () => {
    expect(formatScaled(1234567, 5)).toBe('12.34567000');
    expect(formatScaled(5, 2)).toBe('0.05000000');
    expect(formatScaled(0, 3)).toBe('0.00000000');
    expect(formatScaled(123456789015n, 9)).toBe('123.45678902');
    expect(formatScaled(123456789014n, 9)).toBe('123.45678901');
  });
});
