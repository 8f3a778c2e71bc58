import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Atr } from './atr.js';
import type { Candle } from './candle.js';
import { Ema } from './ema.js';
import { type CandleRejection, type IndicatorPoint, IndicatorSet } from './indicator-set.js';
import { testCandle } from './test-candle.js';
import { Vwap } from './vwap.js';

const MINUTE_MS = 60_000;
const T0 = Date.UTC(2024, 0, 1, 22);

function isPoint(result: IndicatorPoint | CandleRejection): result is IndicatorPoint {
  return result.type === 'indicator-point';
}

function point(result: IndicatorPoint | CandleRejection): IndicatorPoint {
  if (!isPoint(result)) throw new Error(`rejected: ${result.reason}`);
  return result;
}

function minute(i: number, fields: Partial<Candle> = {}): Candle {
  return testCandle({ openTimeMs: T0 + i * MINUTE_MS, ...fields });
}

/** A calm minute around `price`: range ±0.5, volume 1. */
function calm(i: number, price: number): Candle {
  return minute(i, { high: price + 0.5, low: price - 0.5, close: price, volume: 1 });
}

function closeAll(set: IndicatorSet, candles: readonly Candle[]): IndicatorPoint[] {
  return candles.map((c) => point(set.addClosed(c)));
}

const candlesArb = fc
  .array(
    fc.record({
      gap: fc.integer({ min: 1, max: 120 }),
      a: fc.double({ min: 50, max: 150, noNaN: true }),
      b: fc.double({ min: 50, max: 150, noNaN: true }),
      c: fc.double({ min: 0, max: 1, noNaN: true }),
      volume: fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 100, noNaN: true })),
    }),
    { maxLength: 50 },
  )
  .map((rows) => {
    let i = 0;
    return rows.map(({ gap, a, b, c, volume }) => {
      i += gap;
      const low = Math.min(a, b);
      const high = Math.max(a, b);
      return minute(i, { high, low, close: low + c * (high - low), volume });
    });
  });

describe('IndicatorSet', () => {
  it('uses the documented defaults', () => {
    expect(new IndicatorSet().config).toEqual({
      emaPeriod: 9,
      atrPeriod: 14,
      vwapAnchor: 'day',
      vwapSource: 'hlc3',
      vwapBands: [1, 2],
      rubberbandK: 2,
    });
  });

  it('gives final points equal to the individual indicators', () => {
    const candles = Array.from({ length: 30 }, (_, i) =>
      minute(i * 7, {
        high: 101 + (i % 4),
        low: 98 - (i % 3),
        close: 100 + Math.sin(i),
        volume: 1 + (i % 5),
      }),
    );
    const set = new IndicatorSet({ emaPeriod: 5, atrPeriod: 4, vwapBands: [1, 3] });
    const ema = new Ema(5);
    const atr = new Atr(4);
    const vwap = new Vwap({ bands: [1, 3] });
    for (const c of candles) {
      const p = point(set.addClosed(c));
      expect(p.final).toBe(true);
      expect(p.openTimeMs).toBe(c.openTimeMs);
      expect(p.closeTimeMs).toBe(c.closeTimeMs);
      expect(p.ema).toBe(ema.add(c.close));
      expect(p.atr).toBe(atr.add(c));
      expect(p.vwap).toBe(vwap.add(c));
      expect(p.vwapSigma).toBe(vwap.getSigma());
      expect(p.vwapBands?.map((b) => [b.multiplier, b.lower, b.upper])).toEqual([
        [1, vwap.getLowerBand(0), vwap.getUpperBand(0)],
        [3, vwap.getLowerBand(1), vwap.getUpperBand(1)],
      ]);
      expect(set.getLastPoint()).toBe(p);
    }
    expect(set.closedCount).toBe(30);
    expect(set.lastClosedOpenTimeMs).toBe(candles.at(-1)?.openTimeMs);
  });

  it('previews the open candle as addClosed would, flagged provisional, committing nothing', () => {
    fc.assert(
      fc.property(candlesArb, fc.array(fc.double({ min: 50, max: 150, noNaN: true })), (candles, noise) => {
        const withPreviews = new IndicatorSet({ emaPeriod: 3, atrPeriod: 3 });
        const plain = new IndicatorSet({ emaPeriod: 3, atrPeriod: 3 });
        candles.forEach((c, i) => {
          // Open-candle updates that never come true, then the real state, then the close.
          const wobble = noise[i % Math.max(noise.length, 1)] ?? c.close;
          const wrong = { ...c, closed: false, high: Math.max(c.high, wobble), low: Math.min(c.low, wobble) };
          point(withPreviews.previewOpen(wrong));
          const provisional = point(withPreviews.previewOpen({ ...c, closed: false }));
          const final = point(withPreviews.addClosed(c));
          expect(provisional.final).toBe(false);
          expect(final.final).toBe(true);
          expect({ ...provisional, final: true }).toEqual(final);
          expect(final).toEqual(point(plain.addClosed(c)));
        });
      }),
    );
  });

  it('rejects a closed candle seen again or out of order, and leaves the state alone', () => {
    const set = new IndicatorSet({ emaPeriod: 2, atrPeriod: 2 });
    const reference = new IndicatorSet({ emaPeriod: 2, atrPeriod: 2 });
    closeAll(set, [calm(0, 100), calm(1, 101), calm(2, 102)]);
    closeAll(reference, [calm(0, 100), calm(1, 101), calm(2, 102)]);

    const again = set.addClosed(calm(2, 150));
    expect(again).toEqual({
      type: 'candle-rejection',
      reason: 'duplicate',
      openTimeMs: T0 + 2 * MINUTE_MS,
      lastClosedOpenTimeMs: T0 + 2 * MINUTE_MS,
    });
    expect(set.addClosed(calm(1, 150))).toMatchObject({ reason: 'out-of-order' });
    expect(set.previewOpen(calm(2, 150))).toMatchObject({ reason: 'duplicate' });
    expect(set.previewOpen(calm(0, 150))).toMatchObject({ reason: 'out-of-order' });
    expect(set.closedCount).toBe(3);
    expect(set.addClosed(calm(3, 103))).toEqual(reference.addClosed(calm(3, 103)));
  });

  it('rejects open, foreign and invalid candles without touching the state', () => {
    const set = new IndicatorSet({ emaPeriod: 2, atrPeriod: 2 });
    closeAll(set, [calm(0, 100)]);
    expect(set.addClosed({ ...calm(1, 100), closed: false })).toMatchObject({ reason: 'not-closed' });
    expect(set.addClosed({ ...calm(1, 100), symbol: 'ETHUSDT' })).toMatchObject({
      reason: 'stream-mismatch',
    });
    expect(set.previewOpen({ ...calm(1, 100), interval: '5m' })).toMatchObject({ reason: 'stream-mismatch' });
    expect(set.addClosed({ ...calm(1, 100), exchange: 'binance' })).toMatchObject({
      reason: 'stream-mismatch',
    });
    for (const bad of [
      { close: Number.NaN },
      { high: Number.POSITIVE_INFINITY },
      { volume: -1 },
      { high: 90, low: 95 },
    ]) {
      expect(set.addClosed({ ...calm(1, 100), ...bad })).toMatchObject({ reason: 'invalid-candle' });
      expect(set.previewOpen({ ...calm(1, 100), ...bad, closed: false })).toMatchObject({
        reason: 'invalid-candle',
      });
    }
    expect(set.closedCount).toBe(1);
    expect(point(set.addClosed(calm(1, 100))).ema).toBe(100);
  });

  it('resets the VWAP at 00:00 UTC', () => {
    const set = new IndicatorSet();
    const lateDay = Date.UTC(2024, 0, 1, 23, 58);
    const a = point(set.addClosed(testCandle({ openTimeMs: lateDay, high: 201, low: 199, close: 200 })));
    const b = point(
      set.addClosed(
        testCandle({ openTimeMs: lateDay + MINUTE_MS, high: 101, low: 99, close: 100, volume: 3 }),
      ),
    );
    const c = point(
      set.addClosed(testCandle({ openTimeMs: Date.UTC(2024, 0, 2), high: 51, low: 49, close: 50 })),
    );
    expect([a.vwap, b.vwap, c.vwap]).toEqual([200, 125, 50]);
    expect(c.vwapSigma).toBe(0);
  });

  it('reports a period without volume as nulls, never NaN', () => {
    fc.assert(
      fc.property(candlesArb, (candles) => {
        const set = new IndicatorSet({ emaPeriod: 3, atrPeriod: 3 });
        for (const c of candles) {
          for (const p of [point(set.previewOpen({ ...c, closed: false })), point(set.addClosed(c))]) {
            const numbers = [p.ema, p.vwap, p.vwapSigma, p.atr, p.stretch];
            for (const band of p.vwapBands ?? []) numbers.push(band.lower, band.upper);
            for (const x of numbers) if (x !== null) expect(Number.isFinite(x)).toBe(true);
            expect(p.vwap === null).toBe(p.vwapBands === null);
            if (p.vwap === null) expect(p.signal).toBe('none');
          }
        }
      }),
    );
    const set = new IndicatorSet();
    const p = point(set.addClosed(calm(0, 100)));
    expect(p.vwap).toBe(100);
    const untraded = point(set.addClosed(testCandle({ openTimeMs: Date.UTC(2024, 0, 2), volume: 0 })));
    expect([untraded.vwap, untraded.vwapSigma, untraded.vwapBands]).toEqual([null, null, null]);
  });

  it('fires overbought and oversold on a constructed series, each once until re-armed', () => {
    const set = new IndicatorSet();
    const candles: Candle[] = [];
    let i = 0;
    for (let n = 0; n < 30; n++) candles.push(calm(i++, 100));
    // A jump on heavy volume: the close runs far above EMA and VWAP.
    candles.push(minute(i++, { high: 104.2, low: 100, close: 104, volume: 1 }));
    candles.push(minute(i++, { high: 104.6, low: 104, close: 104.5, volume: 1 }));
    for (let n = 0; n < 30; n++) candles.push(calm(i++, 100));
    candles.push(minute(i++, { high: 100, low: 95.8, close: 96, volume: 1 }));
    candles.push(minute(i++, { high: 96, low: 95.4, close: 95.5, volume: 1 }));
    for (let n = 0; n < 30; n++) candles.push(calm(i++, 100));
    candles.push(minute(i++, { high: 104.2, low: 100, close: 104, volume: 1 }));

    const points = closeAll(set, candles);
    const fired = points.flatMap((p, k) => (p.signal === 'none' ? [] : [[k, p.signal]]));
    expect(fired).toEqual([
      [30, 'overbought'],
      [62, 'oversold'],
      [94, 'overbought'],
    ]);
    const first = points[30];
    expect(first?.stretch).toBeGreaterThanOrEqual(2);
    expect(first?.vwap).toBeLessThan(104);
    // Still stretched on the next candle, but that side is disarmed.
    expect(points[31]?.stretch).toBeGreaterThanOrEqual(2);
  });

  it('re-arms the rubberband when the VWAP day resets at 00:00 UTC', () => {
    const run = (vwapAnchor: 'day' | 'none'): IndicatorPoint[] => {
      const set = new IndicatorSet({ vwapAnchor });
      const start = Date.UTC(2024, 0, 1, 23, 28);
      const candles: Candle[] = [];
      for (let n = 0; n < 30; n++) {
        candles.push(testCandle({ openTimeMs: start + n * MINUTE_MS, high: 100.5, low: 99.5, close: 100 }));
      }
      candles.push(
        testCandle({ openTimeMs: Date.UTC(2024, 0, 1, 23, 58), high: 104.2, low: 100, close: 104 }),
      );
      candles.push(
        testCandle({ openTimeMs: Date.UTC(2024, 0, 1, 23, 59), high: 104.6, low: 104, close: 104.5 }),
      );
      candles.push(testCandle({ openTimeMs: Date.UTC(2024, 0, 2), high: 106.5, low: 105, close: 106.5 }));
      return closeAll(set, candles);
    };
    const daily = run('day');
    expect(daily.slice(-3).map((p) => p.signal)).toEqual(['overbought', 'none', 'overbought']);
    expect(daily.at(-1)?.stretch).toBeGreaterThanOrEqual(2);
    // The same candles with no anchor stay disarmed: the stretch never came back below K/2.
    expect(
      run('none')
        .slice(-3)
        .map((p) => p.signal),
    ).toEqual(['overbought', 'none', 'none']);
  });

  it('previews a signal on the open candle without using up the arming', () => {
    const set = new IndicatorSet();
    let i = 0;
    for (let n = 0; n < 30; n++) set.addClosed(calm(i++, 100));
    const spike = minute(i, { high: 104.2, low: 100, close: 104, volume: 1, closed: false });
    expect(point(set.previewOpen(spike)).signal).toBe('overbought');
    expect(point(set.previewOpen(spike)).signal).toBe('overbought');
    expect(point(set.addClosed({ ...spike, closed: true })).signal).toBe('overbought');
  });
});
