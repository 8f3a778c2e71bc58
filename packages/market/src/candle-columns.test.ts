import { testCandle } from '@visualgo/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Candle } from './candle.js';
import { CANDLE_COLUMN_BYTES, CandleColumns } from './candle-columns.js';

const M = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const SERIES = { exchange: 'binance-sim', symbol: 'BTCUSDT', interval: '1m' } as const;

const candleArb = (i: number) =>
  fc
    .record({
      price: fc.double({ min: 1e-8, max: 1e6, noNaN: true }),
      volume: fc.double({ min: 0, max: 1e9, noNaN: true }),
      trades: fc.integer({ min: 0, max: 2 ** 32 + 5 }),
      lastTradeId: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
      idSpan: fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 2 ** 33 })),
      eventDelay: fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })),
      received: fc.integer({ min: 0, max: 2 ** 45 }),
    })
    .map(({ price, volume, trades, lastTradeId, idSpan, eventDelay, received }): Candle => {
      const openTimeMs = T0 + i * M;
      return testCandle({
        openTimeMs,
        open: price,
        high: price * 1.01,
        low: price * 0.99,
        close: price,
        volume,
        quoteVolume: volume * price,
        takerBuyVolume: volume / 3,
        takerBuyQuoteVolume: (volume * price) / 3,
        trades,
        lastTradeId,
        firstTradeId: lastTradeId === -1 ? -1 : lastTradeId - idSpan,
        eventTimeMs: openTimeMs + M - 1 + eventDelay,
        receivedTimeMs: received,
      });
    });

describe('CandleColumns', () => {
  it('gives back every field of every candle exactly, compact or not', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(30), { minLength: 1, maxLength: 40 }), (gaps) => {
        let i = 0;
        const candles = gaps.map((g) => {
          i += g + 1;
          return fc.sample(candleArb(i), 1)[0] as Candle;
        });
        const columns = new CandleColumns(SERIES, 1_000);
        for (const c of candles) columns.push(c);
        expect(columns.slice(0)).toEqual(candles);
      }),
      { numRuns: 50 },
    );
  });

  it('evicts the oldest once full and grows up to its capacity only', () => {
    const columns = new CandleColumns(SERIES, 600);
    for (let i = 0; i < 1_000; i++) columns.push(testCandle({ openTimeMs: T0 + i * M }));
    expect(columns.size).toBe(600);
    expect(columns.oldestOpenTimeMs).toBe(T0 + 400 * M);
    expect(columns.newestOpenTimeMs).toBe(T0 + 999 * M);
    expect(columns.byteLength).toBe(600 * CANDLE_COLUMN_BYTES);
    expect(CANDLE_COLUMN_BYTES).toBeLessThanOrEqual(100);
    expect(columns.lowerBound(T0 + 500 * M)).toBe(100);
    expect(columns.lowerBound(T0 + 500 * M + 1)).toBe(101);
    expect(columns.get(599).openTimeMs).toBe(T0 + 999 * M);
  });

  it('prepends older candles while there is room and refuses out-of-order appends', () => {
    const columns = new CandleColumns(SERIES, 10);
    for (let i = 5; i < 8; i++) columns.push(testCandle({ openTimeMs: T0 + i * M }));
    const older = Array.from({ length: 10 }, (_, i) => testCandle({ openTimeMs: T0 + (i - 5) * M }));
    expect(columns.prepend(older)).toBe(7);
    expect(columns.slice(0).map((c) => (c.openTimeMs - T0) / M)).toEqual([-2, -1, 0, 1, 2, 3, 4, 5, 6, 7]);
    expect(() => columns.push(testCandle({ openTimeMs: T0 + 7 * M }))).toThrow(RangeError);
    columns.push(testCandle({ openTimeMs: T0 + 8 * M }));
    expect(columns.oldestOpenTimeMs).toBe(T0 - M);
  });
});
