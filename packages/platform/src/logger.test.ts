import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, LogThrottle } from './logger.js';

describe('createLogger', () => {
  it('writes one JSON object per line with service and level label', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ name: 'svc', level: 'info' }, sink);
    log.info({ stream: 'btcusdt@kline_1m' }, 'connected');
    log.debug('hidden');
    expect(lines).toHaveLength(1);
    const entry: unknown = JSON.parse(lines[0] ?? '');
    expect(entry).toMatchObject({
      level: 'info',
      service: 'svc',
      msg: 'connected',
      stream: 'btcusdt@kline_1m',
    });
  });
});

describe('LogThrottle', () => {
  it('lets max calls per window through and reports the suppressed count', () => {
    let now = 0;
    const t = new LogThrottle(2, 1_000, () => now);
    expect(t.take('k')).toBe(0);
    expect(t.take('k')).toBe(0);
    expect(t.take('k')).toBeNull();
    expect(t.take('k')).toBeNull();
    expect(t.take('other')).toBe(0);
    now = 1_000;
    expect(t.take('k')).toBe(2);
  });
});
