import { describe, expect, it } from 'vitest';
import { Backoff, sleep } from './backoff.js';

describe('Backoff', () => {
  it('grows exponentially up to the cap without jitter', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(b.attempts).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('draws jittered delays within [d(1-j), d]', () => {
    const lo = new Backoff({ initialMs: 1_000, maxMs: 1_000, jitter: 0.5, random: () => 0.999999 });
    const hi = new Backoff({ initialMs: 1_000, maxMs: 1_000, jitter: 0.5, random: () => 0 });
    expect(lo.next()).toBe(500);
    expect(hi.next()).toBe(1_000);
  });

  it('rejects nonsensical settings', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(RangeError);
    expect(() => new Backoff({ jitter: 2 })).toThrow(RangeError);
  });
});

describe('sleep', () => {
  it('rejects with the abort reason when aborted', async () => {
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });
});
