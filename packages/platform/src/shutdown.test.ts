import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
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
    const t0 = Date.now();
    await s.run('test');
    expect(order).toEqual(['first']);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
