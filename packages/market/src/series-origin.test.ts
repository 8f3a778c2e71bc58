import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Atr } from './atr.js';
import { Ema } from './ema.js';
import {
  candleIndexOf,
  INTERVALS,
  intervalOpenTimeMs,
  nextOpenTimeMs,
  openTimeOfCandleIndex,
} from './interval.js';
import {
  atrConvergenceCandles,
  CONVERGENCE_TOLERANCE,
  emaConvergenceCandles,
  SeriesOrigin,
} from './series-origin.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

describe('candle indices', () => {
  it('count whole intervals from the grid origin and invert exactly, for every interval', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...INTERVALS),
        fc.integer({ min: Date.UTC(2017, 0, 1), max: Date.UTC(2030, 0, 1) }),
        (interval, t) => {
          const open = intervalOpenTimeMs(interval, t);
          const index = candleIndexOf(interval, open);
          expect(openTimeOfCandleIndex(interval, index)).toBe(open);
          expect(candleIndexOf(interval, nextOpenTimeMs(interval, open))).toBe(index + 1);
        },
      ),
    );
  });

  it('start weeks on Monday 1970-01-05 and months in January 1970', () => {
    expect(candleIndexOf('1w', Date.UTC(1970, 0, 5))).toBe(0);
    expect(candleIndexOf('1M', Date.UTC(2024, 1, 1))).toBe(54 * 12 + 1);
    expect(openTimeOfCandleIndex('1M', -1)).toBe(Date.UTC(1969, 11, 1));
  });
});

describe('convergence windows', () => {
  it('are 133 candles for EMA(9) and 388 for Wilder ATR(14)', () => {
    expect(emaConvergenceCandles(9)).toBe(133);
    expect(atrConvergenceCandles(14)).toBe(388);
    const origin = new SeriesOrigin(9, 14);
    expect(origin.warmupCandles).toBe(388);
    expect(origin.epochCandles).toBe(1_440);
  });

  it('grow the epoch for long periods so that chains overlap only before a boundary', () => {
    const origin = new SeriesOrigin(1_000, 14);
    expect(origin.warmupCandles).toBe(emaConvergenceCandles(1_000));
    expect(origin.epochCandles % 1_440).toBe(0);
    expect(origin.epochCandles).toBeGreaterThanOrEqual(origin.warmupCandles);
  });

  /**
   * Two chains that differ only in where they started, one of them seeded in a burst of
   * volatility a thousand times larger than what follows: after the window they agree.
   */
  it('bound the disagreement of chains seeded at different candles by the tolerance', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 0, max: 50 }), (seed, lead) => {
        let state = seed;
        const random = () => {
          state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
          return state / 2 ** 31;
        };
        let price = 1_000;
        const candles = Array.from({ length: lead + 15 + 1_000 }, (_, i) => {
          // Wild for the first candles, then a thousand times calmer.
          const range = i < lead + 15 ? 100 : 0.1;
          price = Math.max(1, price + (random() - 0.5) * range);
          const high = price + random() * range;
          const low = Math.max(0.5, price - random() * range);
          return { high, low, close: low + random() * (high - low) };
        });
        const early = { ema: new Ema(9), atr: new Atr(14) };
        const late = { ema: new Ema(9), atr: new Atr(14) };
        for (const [i, c] of candles.entries()) {
          const e1 = early.ema.add(c.close);
          const a1 = early.atr.add(c);
          if (i < lead) continue;
          const e2 = late.ema.add(c.close);
          const a2 = late.atr.add(c);
          if (i - lead + 1 < emaConvergenceCandles(9)) continue;
          expect(Math.abs((e2 ?? 0) - (e1 ?? 0))).toBeLessThanOrEqual(
            CONVERGENCE_TOLERANCE * Math.abs(e1 ?? 0),
          );
          if (i - lead + 1 < atrConvergenceCandles(14)) continue;
          expect(Math.abs((a2 ?? 0) - (a1 ?? 0))).toBeLessThanOrEqual(
            CONVERGENCE_TOLERANCE * Math.abs(a1 ?? 0),
          );
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('SeriesOrigin', () => {
  const origin = new SeriesOrigin(9, 14);

  it('cuts 1m candles into UTC days, each chain starting 388 minutes before its day', () => {
    const t = Date.UTC(2022, 7, 15, 16, 40);
    const epoch = origin.epochOf('1m', t);
    expect(origin.epochStartMs('1m', epoch)).toBe(Date.UTC(2022, 7, 15));
    expect(origin.chainStartMs('1m', epoch)).toBe(Date.UTC(2022, 7, 15) - 388 * MINUTE_MS);
  });

  it('computes from the chain start of the VWAP period that holds the first point', () => {
    const p = Date.UTC(2022, 7, 15, 16, 40);
    expect(origin.computeFromMs('1m', 'day', p)).toBe(Date.UTC(2022, 7, 15) - 388 * MINUTE_MS);
    // Wednesday 2022-08-17 is in the week that opened Monday 2022-08-15.
    expect(origin.computeFromMs('1m', 'week', Date.UTC(2022, 7, 17, 9))).toBe(
      Date.UTC(2022, 7, 15) - 388 * MINUTE_MS,
    );
    expect(origin.computeFromMs('1m', 'month', p)).toBe(Date.UTC(2022, 7, 1) - 388 * MINUTE_MS);
    // Without an anchor only the chains matter.
    expect(origin.computeFromMs('1m', 'none', p)).toBe(Date.UTC(2022, 7, 15) - 388 * MINUTE_MS);
  });

  it('never starts before the Unix epoch, where every market history begins', () => {
    // 1w epochs are 1,440 weeks: the chain of 2024 starts in 1990, before any crypto market.
    expect(origin.chainStartMs('1w', origin.epochOf('1w', Date.UTC(2024, 0, 1)))).toBe(Date.UTC(1990, 2, 5));
    expect(origin.chainStartMs('1M', origin.epochOf('1M', Date.UTC(2024, 0, 1)))).toBe(0);
    expect(origin.computeFromMs('1d', 'day', Date.UTC(1970, 0, 2))).toBe(0);
    // 1d epochs are 1,440 days long; their chains start 388 days early.
    const p = Date.UTC(2024, 5, 1);
    const from = origin.computeFromMs('1d', 'day', p);
    expect((p - from) / DAY_MS).toBeGreaterThanOrEqual(388);
    expect((p - from) / DAY_MS).toBeLessThanOrEqual(388 + 1_440);
  });
});
