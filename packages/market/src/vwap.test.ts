import { testCandle } from '@visualgo/testing';
import fc from 'fast-check';
import { VWAP as ReferenceVwap } from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import type { Candle } from './candle.js';
import { Vwap, type VwapAnchor, VwapReading, type VwapSource, vwapAnchorStartMs } from './vwap.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

function feed(vwap: Vwap, candles: readonly Candle[]): Vwap {
  for (const c of candles) vwap.add(c);
  return vwap;
}

/** Two-pass reference: VWAP = Σp·v/Σv, σ² = Σv·(p − VWAP)²/Σv, with p per the source. */
function twoPass(candles: readonly Candle[], source: VwapSource): { vwap: number; sigma: number } | null {
  const traded = candles.filter((c) => c.volume > 0);
  const price = (c: Candle): number =>
    source === 'trades' ? c.quoteVolume / c.volume : (c.high + c.low + c.close) / 3;
  const volume = traded.reduce((s, c) => s + c.volume, 0);
  if (volume === 0) return null;
  const vwap = traded.reduce((s, c) => s + price(c) * c.volume, 0) / volume;
  const variance = traded.reduce((s, c) => s + c.volume * (price(c) - vwap) ** 2, 0) / volume;
  return { vwap, sigma: Math.sqrt(variance) };
}

/** Random candles in time order over about a week, some with zero volume, quote volume consistent. */
const candlesArb = fc
  .array(
    fc.record({
      gapMs: fc.integer({ min: MINUTE_MS, max: 12 * HOUR_MS }),
      a: fc.double({ min: 1, max: 1e5, noNaN: true }),
      b: fc.double({ min: 1, max: 1e5, noNaN: true }),
      c: fc.double({ min: 0, max: 1, noNaN: true }),
      t: fc.double({ min: 0, max: 1, noNaN: true }),
      volume: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e4, noNaN: true })),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((rows) => {
    let openTimeMs = Date.UTC(2024, 0, 29, 20);
    return rows.map(({ gapMs, a, b, c, t, volume }) => {
      openTimeMs += gapMs - (gapMs % MINUTE_MS);
      const low = Math.min(a, b);
      const high = Math.max(a, b);
      const quoteVolume = (low + t * (high - low)) * volume;
      return testCandle({ openTimeMs, high, low, close: low + c * (high - low), volume, quoteVolume });
    });
  });

const anchorArb = fc.constantFrom<VwapAnchor>('day', 'week', 'month', 'none');
const sourceArb = fc.constantFrom<VwapSource>('hlc3', 'trades');

describe('vwapAnchorStartMs', () => {
  it('starts days at 00:00 UTC, weeks on Monday and months on the 1st', () => {
    const t = Date.UTC(2024, 1, 29, 13, 7); // Thursday 29 February 2024
    expect(vwapAnchorStartMs('day', t)).toBe(Date.UTC(2024, 1, 29));
    expect(vwapAnchorStartMs('week', t)).toBe(Date.UTC(2024, 1, 26));
    expect(vwapAnchorStartMs('month', t)).toBe(Date.UTC(2024, 1, 1));
    expect(vwapAnchorStartMs('none', t)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('Vwap', () => {
  it('matches the technicalindicators VWAP (hlc3, cumulative) within each UTC day', () => {
    const candles = Array.from({ length: 48 }, (_, i) =>
      testCandle({
        openTimeMs: Date.UTC(2024, 2, 10, 12) + i * HOUR_MS,
        high: 101 + Math.sin(i),
        low: 99 - Math.cos(i) / 2,
        close: 100 + Math.sin(i / 3),
        volume: 1 + (i % 7) * 0.3,
      }),
    );
    const vwap = new Vwap({ anchor: 'day', source: 'hlc3' });
    const days = new Map<number, Candle[]>();
    for (const c of candles) {
      const day = vwapAnchorStartMs('day', c.openTimeMs);
      const sameDay = days.get(day) ?? [];
      sameDay.push(c);
      days.set(day, sameDay);
      const reference = ReferenceVwap.calculate({
        high: sameDay.map((x) => x.high),
        low: sameDay.map((x) => x.low),
        close: sameDay.map((x) => x.close),
        volume: sameDay.map((x) => x.volume),
      });
      const expected = reference.at(-1) ?? Number.NaN;
      const actual = vwap.add(c) ?? Number.NaN;
      expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * expected);
    }
    expect(days.size).toBe(3);
  });

  it('with the trades source is exactly Σ quote volume / Σ volume', () => {
    const candles = [
      testCandle({ openTimeMs: 0, volume: 2, quoteVolume: 201.5 }),
      testCandle({ openTimeMs: MINUTE_MS, volume: 0.5, quoteVolume: 51 }),
      testCandle({ openTimeMs: 2 * MINUTE_MS, volume: 1.25, quoteVolume: 124.1 }),
    ];
    const vwap = feed(new Vwap({ source: 'trades' }), candles);
    expect(vwap.getResult()).toBe((201.5 + 51 + 124.1) / (2 + 0.5 + 1.25));
  });

  it('has σ and bands from the volume-weighted variance of the period', () => {
    // hlc3 prices 100 (volume 1) and 104 (volume 3): VWAP 103, σ² = (1·9 + 3·1)/4 = 3.
    const vwap = feed(new Vwap({ bands: [1, 2] }), [
      testCandle({ openTimeMs: 0, high: 101, low: 99, close: 100, volume: 1 }),
      testCandle({ openTimeMs: MINUTE_MS, high: 105, low: 103, close: 104, volume: 3 }),
    ]);
    expect(vwap.getResult()).toBe(103);
    expect(vwap.getSigma()).toBeCloseTo(Math.sqrt(3), 14);
    expect(vwap.getLowerBand(0)).toBeCloseTo(103 - Math.sqrt(3), 12);
    expect(vwap.getUpperBand(1)).toBeCloseTo(103 + 2 * Math.sqrt(3), 12);
    expect(() => vwap.getUpperBand(2)).toThrow(RangeError);
    const reading = vwap.readInto(new VwapReading());
    expect(reading.vwap).toBe(103);
    expect(reading.sigma).toBe(vwap.getSigma());
  });

  it('resets at 00:00 UTC by candle open time', () => {
    const vwap = new Vwap({ anchor: 'day' });
    vwap.add(testCandle({ openTimeMs: Date.UTC(2024, 0, 1, 23, 58), high: 201, low: 199, close: 200 }));
    vwap.add(testCandle({ openTimeMs: Date.UTC(2024, 0, 1, 23, 59), high: 201, low: 199, close: 200 }));
    expect(vwap.getResult()).toBe(200);
    expect(vwap.periodStartMs).toBe(Date.UTC(2024, 0, 1));
    vwap.add(testCandle({ openTimeMs: Date.UTC(2024, 0, 2), high: 101, low: 99, close: 100 }));
    expect(vwap.getResult()).toBe(100);
    expect(vwap.getSigma()).toBe(0);
    expect(vwap.periodStartMs).toBe(Date.UTC(2024, 0, 2));
  });

  it('resets weekly on Monday 00:00 UTC and monthly on the 1st, not at midnight', () => {
    const sunday = Date.UTC(2024, 0, 7, 23, 59);
    const monday = Date.UTC(2024, 0, 8);
    const week = new Vwap({ anchor: 'week' });
    week.add(testCandle({ openTimeMs: Date.UTC(2024, 0, 6, 12), high: 201, low: 199, close: 200 }));
    week.add(testCandle({ openTimeMs: sunday, high: 101, low: 99, close: 100 }));
    expect(week.getResult()).toBe(150);
    week.add(testCandle({ openTimeMs: monday, high: 101, low: 99, close: 100 }));
    expect(week.getResult()).toBe(100);

    const month = new Vwap({ anchor: 'month' });
    month.add(testCandle({ openTimeMs: Date.UTC(2024, 1, 28), high: 201, low: 199, close: 200 }));
    month.add(testCandle({ openTimeMs: Date.UTC(2024, 1, 29, 23, 59), high: 101, low: 99, close: 100 }));
    expect(month.getResult()).toBe(150);
    month.add(testCandle({ openTimeMs: Date.UTC(2024, 2, 1), high: 101, low: 99, close: 100 }));
    expect(month.getResult()).toBe(100);
  });

  it('never resets without an anchor', () => {
    const vwap = new Vwap({ anchor: 'none' });
    vwap.add(testCandle({ openTimeMs: Date.UTC(2024, 0, 1), high: 201, low: 199, close: 200 }));
    vwap.add(testCandle({ openTimeMs: Date.UTC(2024, 5, 1), high: 101, low: 99, close: 100 }));
    expect(vwap.getResult()).toBe(150);
  });

  it('gives null, never NaN, for a period without volume', () => {
    const vwap = new Vwap({ anchor: 'day', source: 'trades' });
    vwap.add(testCandle({ openTimeMs: 0, volume: 0, quoteVolume: 0 }));
    expect(vwap.getResult()).toBeNull();
    expect(vwap.getSigma()).toBeNull();
    expect(vwap.getLowerBand(0)).toBeNull();
    expect(vwap.isStable).toBe(false);
    vwap.add(testCandle({ openTimeMs: MINUTE_MS, volume: 2, quoteVolume: 200 }));
    expect(vwap.getResult()).toBe(100);
    // The next day opens with an untraded candle: no VWAP until volume arrives.
    vwap.add(testCandle({ openTimeMs: DAY_MS, volume: 0, quoteVolume: 0 }));
    expect(vwap.getResult()).toBeNull();
    expect(vwap.isStable).toBe(false);
    expect(
      vwap.preview(testCandle({ openTimeMs: DAY_MS + MINUTE_MS, volume: 0, quoteVolume: 0 })),
    ).toBeNull();
  });

  it('keeps σ accurate when it is tiny next to the price', () => {
    // Σv·p²/Σv − VWAP² in plain form cancels ~3.6e9 against ~3.6e9 and loses σ² ≈ 1e-4 entirely.
    const candles = Array.from({ length: 1440 }, (_, i) => {
      const close = 60_000.01 + 0.01 * Math.sin(i);
      return testCandle({ openTimeMs: i * MINUTE_MS, high: close, low: close, close, volume: 0.5 + (i % 3) });
    });
    const vwap = feed(new Vwap(), candles);
    const expected = twoPass(candles, 'hlc3');
    if (expected === null) throw new Error('no volume');
    expect(Math.abs((vwap.getSigma() ?? 0) - expected.sigma)).toBeLessThanOrEqual(1e-6 * expected.sigma);
  });

  it('agrees with a two-pass computation over the current period', () => {
    fc.assert(
      fc.property(candlesArb, anchorArb, sourceArb, (candles, anchor, source) => {
        const vwap = feed(new Vwap({ anchor, source }), candles);
        const last = candles.at(-1);
        if (last === undefined) return;
        const start = vwapAnchorStartMs(anchor, last.openTimeMs);
        const period = candles.filter((c) => vwapAnchorStartMs(anchor, c.openTimeMs) === start);
        const expected = twoPass(period, source);
        if (expected === null) {
          expect(vwap.getResult()).toBeNull();
          return;
        }
        const scale = Math.max(...period.map((c) => c.high));
        expect(Math.abs((vwap.getResult() ?? Number.NaN) - expected.vwap)).toBeLessThanOrEqual(1e-12 * scale);
        expect(Math.abs((vwap.getSigma() ?? Number.NaN) - expected.sigma)).toBeLessThanOrEqual(1e-7 * scale);
      }),
    );
  });

  it('lies within the lowest low and highest high of its period, with ordered bands', () => {
    fc.assert(
      fc.property(candlesArb, anchorArb, sourceArb, (candles, anchor, source) => {
        const vwap = new Vwap({ anchor, source, bands: [1, 2] });
        let low = Number.POSITIVE_INFINITY;
        let high = Number.NEGATIVE_INFINITY;
        let start: number | null = null;
        for (const c of candles) {
          vwap.add(c);
          if (vwap.periodStartMs !== start) {
            start = vwap.periodStartMs;
            low = Number.POSITIVE_INFINITY;
            high = Number.NEGATIVE_INFINITY;
          }
          if (c.volume > 0) {
            low = Math.min(low, c.low);
            high = Math.max(high, c.high);
          }
          const v = vwap.getResult();
          const sigma = vwap.getSigma();
          if (v === null || sigma === null) {
            expect(v).toBeNull();
            expect(sigma).toBeNull();
            continue;
          }
          // An average rounds: allow a few ulps beyond the extremes.
          expect(v).toBeGreaterThanOrEqual(low * (1 - 1e-14));
          expect(v).toBeLessThanOrEqual(high * (1 + 1e-14));
          expect(sigma).toBeGreaterThanOrEqual(0);
          expect(sigma).toBeLessThanOrEqual((high - low) / 2 + 1e-9 * high);
          const lower1 = vwap.getLowerBand(0) ?? Number.NaN;
          const lower2 = vwap.getLowerBand(1) ?? Number.NaN;
          const upper1 = vwap.getUpperBand(0) ?? Number.NaN;
          const upper2 = vwap.getUpperBand(1) ?? Number.NaN;
          expect(lower2 <= lower1 && lower1 <= v && v <= upper1 && upper1 <= upper2).toBe(true);
        }
      }),
    );
  });

  it('answers the anchor period of any candle, inside the current period or not', () => {
    fc.assert(
      fc.property(
        candlesArb,
        anchorArb,
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (candles, anchor, t) => {
          const vwap = feed(new Vwap({ anchor }), candles);
          expect(vwap.anchorStartMsOf(t)).toBe(vwapAnchorStartMs(anchor, t));
          for (const c of candles)
            expect(vwap.anchorStartMsOf(c.openTimeMs)).toBe(vwapAnchorStartMs(anchor, c.openTimeMs));
        },
      ),
    );
  });

  it('puts a candle opening at exactly 00:00 UTC in the new day, not the period that just ended', () => {
    // Mutation guard: an inclusive end of the current period would keep it in the old day.
    // Monday 2024-03-04 01:00 UTC: its day ends on the 5th, its week on the 11th, its month on 1 April.
    const t = Date.UTC(2024, 2, 4, 1);
    const ends = { day: Date.UTC(2024, 2, 5), week: Date.UTC(2024, 2, 11), month: Date.UTC(2024, 3, 1) };
    for (const anchor of ['day', 'week', 'month'] as const) {
      const vwap = new Vwap({ anchor });
      vwap.add(testCandle({ openTimeMs: t }));
      const end = ends[anchor];
      expect(vwap.anchorStartMsOf(end - 60_000)).toBe(vwapAnchorStartMs(anchor, t));
      expect(vwap.anchorStartMsOf(end)).toBe(end);
    }
  });

  it('previews into a reading without committing', () => {
    const vwap = feed(new Vwap(), [testCandle({ openTimeMs: 0, high: 101, low: 99, close: 100, volume: 1 })]);
    const reading = new VwapReading();
    vwap.previewInto(
      testCandle({ openTimeMs: MINUTE_MS, high: 105, low: 103, close: 104, volume: 3 }),
      reading,
    );
    expect(reading.vwap).toBe(103);
    expect(reading.sigma).toBeCloseTo(Math.sqrt(3), 14);
    expect(vwap.getResult()).toBe(100);
    expect(vwap.getSigma()).toBe(0);
  });

  it('rejects negative volumes and non-positive band multipliers', () => {
    expect(() => new Vwap().add(testCandle({ openTimeMs: 0, volume: -1 }))).toThrow(RangeError);
    expect(() => new Vwap({ bands: [0] })).toThrow(RangeError);
  });
});
