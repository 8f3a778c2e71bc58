import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PointHistory } from './point-history.js';

describe('PointHistory', () => {
  it('keeps the newest items up to its capacity, oldest first', () => {
    const h = new PointHistory<number>(3);
    expect(h.last()).toEqual([]);
    for (const i of [1, 2, 3, 4, 5]) h.push(i);
    expect(h.size).toBe(3);
    expect(h.last()).toEqual([3, 4, 5]);
    expect(h.last(2)).toEqual([4, 5]);
    expect(h.last(10)).toEqual([3, 4, 5]);
    expect(h.newest()).toBe(5);
  });

  it('equals the tail of the whole series for any capacity, pushes and limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer()), fc.nat(30), (cap, xs, limit) => {
        const h = new PointHistory<number>(cap);
        for (const x of xs) h.push(x);
        const kept = xs.slice(Math.max(0, xs.length - cap));
        expect(h.last()).toEqual(kept);
        expect(h.last(limit)).toEqual(limit === 0 ? [] : kept.slice(-limit));
      }),
    );
  });
});
