import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { Shutdown } from './shutdown.js';

const silent = pino({ level: 'silent' });

describe('Shutdown', () => {
  it('stops components in reverse registration order, once', async () => {
    const order: string[] = [];
    const s = new Shutdown(silent);
    s.register('a', () => {
      order.push('a');
    });
    s.register('b', async () => {
      order.push('b');
    });
    await Promise.all([s.run('test'), s.run('again')]);
    expect(order).toEqual(['b', 'a']);
  });

  it('keeps going past a failing or stuck component within the deadline', async () => {
    const order: string[] = [];
    const s = new Shutdown(silent, 200);
    s.register('first', () => {
      order.push('first');
    });
    s.register('stuck', () => new Promise<void>(() => {}));
    s.register('throws', () => {
      throw new Error('boom');
    });
    // Fake timers: the deadline is checked by the clock it is written against, not wall time.
    vi.useFakeTimers();
    try {
      let done = false;
      const run = s.run('test').then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(199);
      expect(done).toBe(false); // still waiting for the stuck component
      await vi.advanceTimersByTimeAsync(1);
      await run;
      expect(done).toBe(true);
    } finally {
      vi.useRealTimers();
    }
    expect(order).toEqual(['first']);
  });
});
