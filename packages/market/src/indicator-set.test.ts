import { testCandle } from '@visualgo/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Atr } from './atr.js';
import type { Candle } from './candle.js';
import { Ema } from './ema.js';
import { type CandleRejection, type IndicatorPoint, IndicatorSet } from './indicator-set.js';
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

  it('gives final points equal to the individual indicators within an epoch', () => {
    // 00:00-03:30 UTC: one epoch, and before the next epoch's chain starts.
    const candles = Array.from({ length: 30 }, (_, i) =>
      minute(i * 7 - 22 * 60, {
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

/** JSON that keeps non-finite numbers (as the strings "NaN", "Infinity", "-Infinity"). */
const throughJson = <T>(value: T): T =>
  JSON.parse(
    JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)),
    (_k, v) => (v === 'NaN' || v === 'Infinity' || v === '-Infinity' ? Number(v) : v),
  ) as T;

describe('IndicatorSet saved and restored', () => {
  it('continues bit for bit from a state saved at any candle, through JSON', () => {
    fc.assert(
      fc.property(
        candlesArb,
        fc.nat(),
        fc.integer({ min: -900, max: 900 }),
        (candles, cutAt, completeShift) => {
          const cut = candles.length === 0 ? 0 : cutAt % (candles.length + 1);
          const config = { emaPeriod: 3, atrPeriod: 4, vwapBands: [1, 2.5] };
          const whole = new IndicatorSet(config);
          const first = new IndicatorSet(config);
          const from = (candles[0]?.openTimeMs ?? T0) + completeShift * MINUTE_MS;
          whole.markCompleteFrom(from);
          first.markCompleteFrom(from);
          const expected = candles.map((c) => [
            whole.previewOpen({ ...c, closed: false }),
            whole.addClosed(c),
          ]);
          const before = candles
            .slice(0, cut)
            .map((c) => [first.previewOpen({ ...c, closed: false }), first.addClosed(c)]);
          const restored = IndicatorSet.restore(throughJson(first.saveState()));
          const after = candles
            .slice(cut)
            .map((c) => [restored.previewOpen({ ...c, closed: false }), restored.addClosed(c)]);
          expect([...before, ...after]).toEqual(expected);
          expect(restored.lastClosedOpenTimeMs).toBe(whole.lastClosedOpenTimeMs);
          expect(restored.closedCount).toBe(whole.closedCount);
          expect(restored.getLastPoint()).toEqual(whole.getLastPoint());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a state of another version', () => {
    const state = { ...new IndicatorSet().saveState(), version: 2 } as unknown as ReturnType<
      IndicatorSet['saveState']
    >;
    expect(() => IndicatorSet.restore(state)).toThrow(RangeError);
  });
});

describe('IndicatorSet values fixed by the calendar', () => {
  const DAY_MS = 86_400_000;
  const START = Date.UTC(2024, 2, 4); // a Monday

  /** Three days of a seeded random walk of 1m candles, with bursts that make signals fire. */
  function market(seed: number, days = 3): Candle[] {
    let state = seed;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    let price = 100;
    return Array.from({ length: days * 1_440 }, (_, i) => {
      const burst = random() < 0.01 ? (random() - 0.5) * 8 : 0;
      const open = price;
      price = Math.max(1, price + (random() - 0.5) * 0.6 + burst);
      const high = Math.max(open, price) + random() * 0.3;
      const low = Math.min(open, price) - random() * 0.3;
      return testCandle({
        openTimeMs: START + i * MINUTE_MS,
        open,
        high,
        low,
        close: price,
        volume: 1 + random() * 10,
      });
    });
  }

  function runFrom(candles: readonly Candle[], fromIndex: number): Map<number, IndicatorPoint> {
    const set = new IndicatorSet();
    const first = candles[fromIndex];
    if (!first) throw new Error('no candle to start from');
    set.markCompleteFrom(first.openTimeMs);
    const out = new Map<number, IndicatorPoint>();
    for (const c of candles.slice(fromIndex)) out.set(c.openTimeMs, point(set.addClosed(c)));
    return out;
  }

  it('gives bit-identical, exact points from the first wanted one, whatever candle computing started at', () => {
    const candles = market(7);
    const origin = new IndicatorSet().origin;
    const reference = runFrom(candles, 0);
    fc.assert(
      fc.property(
        fc.integer({ min: 1_440 + 60, max: 3 * 1_440 - 1 }),
        fc.integer({ min: 0, max: 1_000 }),
        (p, back) => {
          const firstPoint = candles[p]?.openTimeMs ?? 0;
          const from = origin.computeFromMs('1m', 'day', firstPoint);
          const startIndex = Math.max(0, (from - START) / MINUTE_MS - back);
          const run = runFrom(candles, startIndex);
          for (const c of candles.slice(p)) {
            const q = run.get(c.openTimeMs);
            expect(q).toEqual(reference.get(c.openTimeMs));
            expect([q?.vwapPartial, q?.converged, q?.vwapFromMs]).toEqual([
              false,
              true,
              c.openTimeMs - (c.openTimeMs % DAY_MS),
            ]);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('agrees with a full-history EMA and ATR to 1e-9 and equals them within the first epoch', () => {
    const candles = market(11);
    const set = new IndicatorSet();
    const ema = new Ema(9);
    const atr = new Atr(14);
    for (const c of candles) {
      const p = point(set.addClosed(c));
      const e = ema.add(c.close);
      const a = atr.add(c);
      if (c.openTimeMs < START + DAY_MS) {
        expect([p.ema, p.atr]).toEqual([e, a]);
      } else {
        expect(Math.abs((p.ema ?? 0) - (e ?? 0))).toBeLessThanOrEqual(1e-9 * Math.abs(e ?? 0));
        expect(Math.abs((p.atr ?? 0) - (a ?? 0))).toBeLessThanOrEqual(1e-9 * Math.abs(a ?? 0));
      }
    }
  });

  it('flags values that depend on candles before the complete history and fires nothing from them', () => {
    const candles = market(3);
    const midnight = START + 2 * DAY_MS;
    // The same market computed from its beginning fires during the second day: start an hour
    // before such a signal (and before 17:32, where the next day's chain starts), with nothing
    // earlier.
    const full = [...runFrom(candles, 0).values()];
    const fired = full.findIndex((p, i) => i >= 1_440 + 60 && i - 60 <= 1_440 + 1_052 && p.signal !== 'none');
    expect(fired).toBeGreaterThan(0);
    const startIndex = fired - 60;
    const points = [...runFrom(candles, startIndex).values()];
    for (const p of points) {
      if (p.openTimeMs < midnight) {
        expect(p.vwapPartial).toBe(true);
        expect(p.vwapFromMs).toBe(START + startIndex * MINUTE_MS);
        expect(p.converged).toBe(false);
        expect(p.signal).toBe('none');
      } else {
        expect(p.vwapPartial).toBe(false);
        expect(p.converged).toBe(true);
      }
    }
  });

  it('marks the rest of the VWAP period partial, and chains that started before it, after a lost stretch', () => {
    const candles = market(5);
    const set = new IndicatorSet();
    const hole = { from: 600, to: 660 }; // 10:00-11:00 on the first day, lost
    const out: IndicatorPoint[] = [];
    for (const [i, c] of candles.entries()) {
      if (i >= hole.from && i <= hole.to) continue;
      if (i === hole.to + 1) set.markCompleteFrom(c.openTimeMs);
      out.push(point(set.addClosed(c)));
    }
    const afterHole = out.filter((p) => p.openTimeMs > START + hole.to * MINUTE_MS);
    const firstDay = afterHole.filter((p) => p.openTimeMs < START + DAY_MS);
    expect(firstDay.every((p) => p.vwapPartial && !p.converged && p.signal === 'none')).toBe(true);
    // The next day's chain started at 17:32, after the hole: exact again from midnight.
    const nextDay = afterHole.filter((p) => p.openTimeMs >= START + DAY_MS);
    expect(nextDay.every((p) => !p.vwapPartial && p.converged)).toBe(true);
    // A provisional point follows the same rule.
    const again = new IndicatorSet();
    for (const c of candles.slice(0, hole.from)) again.addClosed(c);
    again.markCompleteFrom(candles[hole.to + 1]?.openTimeMs ?? 0);
    const open = { ...(candles[hole.to + 1] as Candle), closed: false };
    expect(point(again.previewOpen(open))).toMatchObject({
      vwapPartial: true,
      converged: false,
      signal: 'none',
    });
  });
});
