import { type Candle, type IndicatorPoint, IndicatorSet } from '@visualgo/market';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rubberbandScenario, walk, walkCandle } from '../testing/candles.js';
import { wirePoint } from './indicator-engine.js';
import { POINT_COLUMN_BYTES, PointColumns } from './point-columns.js';

function points(
  candles: readonly Candle[],
  bands: readonly number[],
  completeFromMs?: number,
): [Candle, IndicatorPoint][] {
  const set = new IndicatorSet({ vwapBands: bands });
  if (completeFromMs !== undefined) set.markCompleteFrom(completeFromMs);
  return candles.map((c) => {
    const p = set.addClosed(c);
    if (p.type !== 'indicator-point') throw new Error('rejected');
    return [c, p];
  });
}

/** The flagged series is moved 1,000 minutes on, after the exact one. */
const LATER = 1_000 * 60_000;

describe('PointColumns', () => {
  it('gives back each point exactly as it is sent on the wire, for any capacity and limit', () => {
    // Signals of both sides, then a wander; and the same wander flagged (history incomplete).
    const scenario = rubberbandScenario();
    const exact = points([...scenario, ...walk(scenario.length, 200)], [1, 2.5]);
    const flagged = points(walk(0, 200), [1, 2.5], walkCandle(40).openTimeMs).map(
      ([c, p]): [Candle, IndicatorPoint] => [
        { ...c, openTimeMs: c.openTimeMs + LATER, closeTimeMs: c.closeTimeMs + LATER },
        { ...p, openTimeMs: p.openTimeMs + LATER, closeTimeMs: p.closeTimeMs + LATER },
      ],
    );
    const all = [...exact, ...flagged];
    expect(new Set(all.map(([, p]) => p.signal))).toEqual(new Set(['none', 'overbought', 'oversold']));
    expect(all.some(([, p]) => p.vwapPartial && !p.converged)).toBe(true);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 400 }),
        fc.nat(600),
        (cap, n, limit) => {
          const columns = new PointColumns('1m', [1, 2.5], cap);
          for (const [c, p] of all.slice(0, n)) columns.push(c, p);
          const wire = all.slice(0, n).map(([c, p]) => wirePoint(c, p));
          const kept = wire.slice(Math.max(0, n - cap));
          expect(columns.size).toBe(kept.length);
          expect(columns.last()).toEqual(kept);
          expect(columns.last(limit)).toEqual(limit === 0 ? [] : kept.slice(-limit));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers the newest points up to an open time', () => {
    const all = points(walk(0, 100), [1, 2]);
    const columns = new PointColumns('1m', [1, 2], 50);
    for (const [c, p] of all) columns.push(c, p);
    const wire = all.map(([c, p]) => wirePoint(c, p));
    const at = (i: number) => wire[i]?.openTimeMs ?? 0;
    expect(columns.lastUpTo(at(70), 5)).toEqual(wire.slice(66, 71));
    expect(columns.lastUpTo(at(70) + 1, 5)).toEqual(wire.slice(66, 71));
    expect(columns.lastUpTo(at(52), 10)).toEqual(wire.slice(50, 53));
    expect(columns.lastUpTo(at(10), 10)).toEqual([]);
    expect(POINT_COLUMN_BYTES).toBeLessThanOrEqual(100);
    expect(columns.byteLength).toBe(50 * POINT_COLUMN_BYTES);
  });
});
