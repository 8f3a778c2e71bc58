import { describe, expect, it } from 'vitest';
import { ReadCache } from './read-cache.js';

describe('ReadCache', () => {
  it('answers a read asked again within the time from the first, in flight or done', async () => {
    let now = 0;
    let loads = 0;
    const cache = new ReadCache<number>(1_000, 10, () => now);
    const load = () => Promise.resolve(++loads);
    const [a, b] = await Promise.all([cache.read('k', load), cache.read('k', load)]);
    expect([a, b, loads]).toEqual([1, 1, 1]);
    now = 999;
    expect(await cache.read('k', load)).toBe(1);
    now = 1_000;
    expect(await cache.read('k', load)).toBe(2);
  });

  it('keeps at most its number of entries, least recently used out first, and forgets failures', async () => {
    const cache = new ReadCache<string>(60_000, 2, () => 0);
    let loads = 0;
    const load = (v: string) => () => {
      loads++;
      return Promise.resolve(v);
    };
    await cache.read('a', load('a'));
    await cache.read('b', load('b'));
    await cache.read('a', load('a'));
    await cache.read('c', load('c'));
    expect(cache.size).toBe(2);
    await cache.read('b', load('b'));
    expect(loads).toBe(4);
    await expect(cache.read('x', () => Promise.reject(new Error('store down')))).rejects.toThrow(
      'store down',
    );
    expect(await cache.read('x', load('x'))).toBe('x');
  });
});
