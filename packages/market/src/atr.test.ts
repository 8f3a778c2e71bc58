import fc from 'fast-check';
import { ATR as ReferenceAtr } from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import { Atr, type AtrInput, trueRange } from './atr.js';

function hlc(high: number, low: number, close: number): AtrInput {
  return { high, low, close };
}

function atrSeries(period: number, candles: readonly AtrInput[]): (number | null)[] {
  const atr = new Atr(period);
  return candles.map((c) => atr.add(c));
}

/**
 * TA-Lib's batch `TA_ATR` (src/ta_func/ta_ATR.c, unstable period 0), transcribed loop for loop as an
 * independent check of the streaming version: output starts at index N, seeded with the plain
 * average of TR[1..N], then prev·(N−1) + TR, / N.
 */
function taLibAtr(period: number, candles: readonly AtrInput[]): number[] {
  const out: number[] = [];
  if (candles.length <= period) return out;
  const tr = (i: number): number => {
    const c = candles[i];
    const prev = candles[i - 1];
    if (c === undefined || prev === undefined) throw new Error(`no candle ${i}`);
    let greatest = c.high - c.low;
    const val2 = Math.abs(prev.close - c.high);
    if (val2 > greatest) greatest = val2;
    const val3 = Math.abs(prev.close - c.low);
    if (val3 > greatest) greatest = val3;
    return greatest;
  };
  let today = 1;
  let periodTotal = 0;
  for (let i = 0; i < period; i++) periodTotal += tr(today++);
  let prevAtr = periodTotal / period;
  out.push(prevAtr);
  while (today < candles.length) {
    prevAtr *= period - 1;
    prevAtr += tr(today++);
    prevAtr /= period;
    out.push(prevAtr);
  }
  return out;
}

const candleArb = fc
  .record({
    a: fc.double({ min: 1, max: 1e5, noNaN: true }),
    b: fc.double({ min: 1, max: 1e5, noNaN: true }),
    c: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ a, b, c }) => hlc(Math.max(a, b), Math.min(a, b), Math.min(a, b) + c * Math.abs(a - b)));

describe('trueRange', () => {
  it('takes the largest of the bar range and the two gaps to the previous close', () => {
    expect(trueRange(11, 9, 9)).toBe(2);
    expect(trueRange(11, 7, 11.5)).toBe(4.5);
    expect(trueRange(15, 14, 9)).toBe(6);
  });
});

describe('Atr', () => {
  it('follows the TA-Lib convention on a hand-computed series', () => {
    const candles = [
      hlc(10, 8, 9), // no previous close: no true range
      hlc(11, 9, 10), // TR 2
      hlc(12, 10, 11.5), // TR 2
      hlc(11, 7, 8), // TR 4.5: first ATR = (2 + 2 + 4.5)/3
      hlc(9, 8.5, 9), // TR 1: (8.5/3 · 2 + 1)/3 = 20/9
      hlc(15, 14, 14.5), // gap up, TR 6: (20/9 · 2 + 6)/3 = 94/27
    ];
    const series = atrSeries(3, candles);
    expect(series.slice(0, 3)).toEqual([null, null, null]);
    expect(series[3]).toBeCloseTo(8.5 / 3, 14);
    expect(series[4]).toBeCloseTo(20 / 9, 14);
    expect(series[5]).toBeCloseTo(94 / 27, 14);
  });

  it('needs N + 1 candles and equals the TA-Lib algorithm bit for bit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(candleArb, { maxLength: 80 }),
        (period, candles) => {
          const series = atrSeries(period, candles);
          const expected = taLibAtr(period, candles);
          expect(series.slice(0, period).every((x) => x === null)).toBe(true);
          expect(series.slice(period)).toEqual(expected);
        },
      ),
    );
  });

  it('matches the technicalindicators ATR to 1e-12 relative', () => {
    // Same warm-up and SMA seed; technicalindicators smooths as prev + (TR − prev)/N, which only
    // differs from TA-Lib's (prev·(N−1) + TR)/N by rounding.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(candleArb, { minLength: 1, maxLength: 80 }),
        (period, candles) => {
          const reference = ReferenceAtr.calculate({
            period,
            high: candles.map((c) => c.high),
            low: candles.map((c) => c.low),
            close: candles.map((c) => c.close),
          });
          const series = atrSeries(period, candles).slice(period);
          expect(series).toHaveLength(reference.length);
          // Rounding differences between the two smoothing forms are relative to the prices the
          // true ranges are computed from: when the ATR itself is float noise (high and low equal
          // to within an ulp), relative to the ATR alone it would be unbounded.
          const priceScale = Math.max(...candles.map((c) => Math.abs(c.high)));
          reference.forEach((expected, i) => {
            const actual = series[i] ?? Number.NaN;
            expect(Math.abs(actual - expected)).toBeLessThanOrEqual(
              1e-12 * Math.abs(expected) + 4 * Number.EPSILON * priceScale,
            );
          });
        },
      ),
    );
  });

  it('with period 1 is the true range, as in TA-Lib', () => {
    const series = atrSeries(1, [hlc(10, 8, 9), hlc(11, 9, 10), hlc(11, 7, 11.5)]);
    expect(series).toEqual([null, 2, 4]);
  });

  it('is never negative and is zero for a flat series', () => {
    fc.assert(
      fc.property(fc.array(candleArb, { maxLength: 40 }), (candles) => {
        for (const x of atrSeries(5, candles)) if (x !== null) expect(x).toBeGreaterThanOrEqual(0);
      }),
    );
    const flat = atrSeries(
      3,
      Array.from({ length: 6 }, () => hlc(5, 5, 5)),
    );
    expect(flat.at(-1)).toBe(0);
  });
});
