import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RatePacer } from './rate-pacer.js';

describe('RatePacer', () => {
  it('lets a burst through at once, then spaces attempts at the rate', () => {
    let now = 1_000;
    const pacer = new RatePacer({ burst: 3, rate: 12, perMs: 60_000, now: () => now });
    expect([pacer.reserve(), pacer.reserve(), pacer.reserve()]).toEqual([0, 0, 0]);
    expect([pacer.reserve(), pacer.reserve()]).toEqual([5_000, 10_000]);
    now += 60_000;
    // A quiet minute refills the bucket.
    expect([pacer.reserve(), pacer.reserve(), pacer.reserve(), pacer.reserve()]).toEqual([0, 0, 0, 5_000]);
  });

  it('never puts more than burst + rate·W/perMs attempts in any window W', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 120 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 300 }),
        (burst, rate, gaps) => {
          let now = 0;
          const pacer = new RatePacer({ burst, rate, perMs: 300_000, now: () => now });
          const slots: number[] = [];
          for (const gap of gaps) {
            now += gap;
            slots.push(now + pacer.reserve());
          }
          slots.sort((a, b) => a - b);
          const windowMs = 300_000;
          for (let i = 0, j = 0; i < slots.length; i++) {
            while ((slots[i] as number) - (slots[j] as number) >= windowMs) j++;
            expect(i - j + 1).toBeLessThanOrEqual(burst + rate);
          }
        },
      ),
    );
  });
});
