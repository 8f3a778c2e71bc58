import fc from 'fast-check';
import { EMA as ReferenceEma, SMA as ReferenceSma } from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import { Ema } from './ema.js';

// The trading-algo issue's reference series and TA-Lib EMA(9) values (10 decimals).
const CLOSES = [
  100, 101, 102, 101.5, 103, 104, 103.5, 105, 106, 105.5, 107, 108, 107.2, 109, 110, 109.5, 111, 112, 111.3,
  113, 114, 113.8, 115, 116, 115.4, 117, 118, 117.6, 119, 120,
];
const TA_LIB_EMA9: ReadonlyMap<number, number> = new Map([
  [8, 102.8888888889],
  [13, 106.0899911111],
  [20, 110.8803637039],
  [29, 116.9292896577],
]);

function emaSeries(period: number, values: readonly number[]): (number | null)[] {
  const ema = new Ema(period);
  return values.map((x) => ema.add(x));
}

function expectRelativelyClose(actual: number | null, expected: number, tolerance: number): void {
  if (actual === null) throw new Error(`expected ${expected}, got null`);
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.abs(expected));
}

describe('Ema', () => {
  it('matches the TA-Lib EMA(9) reference values', () => {
    const series = emaSeries(9, CLOSES);
    for (const [index, expected] of TA_LIB_EMA9) {
      expect(Math.abs((series[index] ?? Number.NaN) - expected)).toBeLessThanOrEqual(1e-10);
    }
  });

  it('is null before 9 closes and seeded with their simple average', () => {
    const series = emaSeries(9, CLOSES);
    expect(series.slice(0, 8)).toEqual(Array(8).fill(null));
    expect(series[8]).toBe(CLOSES.slice(0, 9).reduce((a, b) => a + b, 0) / 9);
  });

  it('matches the technicalindicators EMA over the whole reference series to 1e-12 relative', () => {
    const reference = ReferenceEma.calculate({ period: 9, values: CLOSES });
    const series = emaSeries(9, CLOSES);
    expect(reference).toHaveLength(CLOSES.length - 8);
    reference.forEach((expected, i) => {
      expectRelativelyClose(series[i + 8] ?? null, expected, 1e-12);
    });
  });

  it('agrees with technicalindicators, whose EMA is also seeded with the SMA', () => {
    // The package's first EMA value is its SMA of the first N values, so both conventions agree.
    const reference = ReferenceEma.calculate({ period: 9, values: CLOSES });
    const sma = ReferenceSma.calculate({ period: 9, values: CLOSES });
    expect(reference[0]).toBe(sma[0]);
  });

  it('matches technicalindicators on random series and periods', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.double({ min: 1e-3, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 120 }),
        (period, values) => {
          const reference = ReferenceEma.calculate({ period, values });
          const series = emaSeries(period, values);
          expect(series.filter((x) => x !== null)).toHaveLength(reference.length);
          reference.forEach((expected, i) => {
            expectRelativelyClose(series[i + period - 1] ?? null, expected, 1e-12);
          });
        },
      ),
    );
  });

  it('stays within the minimum and maximum of its inputs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 100 }),
        (period, values) => {
          const ema = new Ema(period);
          let min = Number.POSITIVE_INFINITY;
          let max = Number.NEGATIVE_INFINITY;
          for (const x of values) {
            min = Math.min(min, x);
            max = Math.max(max, x);
            const e = ema.add(x);
            if (e === null) continue;
            // A rounding slack: the average of equal values can land an ulp away from them.
            const slack = 1e-12 * Math.max(Math.abs(min), Math.abs(max), 1);
            expect(e).toBeGreaterThanOrEqual(min - slack);
            expect(e).toBeLessThanOrEqual(max + slack);
          }
        },
      ),
    );
  });

  it('previews an open candle without committing it', () => {
    const ema = new Ema(9);
    for (const x of CLOSES.slice(0, 10)) ema.add(x);
    const committed = ema.getResult();
    const provisional = ema.preview(200);
    expect(provisional).not.toBe(committed);
    expect(ema.getResult()).toBe(committed);
    expect(ema.add(200)).toBe(provisional);
  });
});
