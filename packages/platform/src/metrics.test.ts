import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedCounter } from './metrics.js';

describe('TalliedCounter', () => {
  it('exports what Counter.inc exports for the same counts, each series from its first count on', async () => {
    const tallied = new Registry();
    const plain = new Registry();
    const t = new TalliedCounter<'stream' | 'kind'>({
      name: 'events_total',
      help: 'events',
      labelNames: ['stream', 'kind'],
      registers: [tallied],
    });
    const c = new Counter<'stream' | 'kind'>({
      name: 'events_total',
      help: 'events',
      labelNames: ['stream', 'kind'],
      registers: [plain],
    });
    const a = t.series({ stream: 'a', kind: 'trade' });
    const b = t.series({ stream: 'b', kind: 'trade' });
    t.series({ stream: 'c', kind: 'trade' }); // never counted: not exported
    expect(await tallied.metrics()).toBe(await plain.metrics());

    for (let i = 0; i < 3; i++) {
      a.value++;
      c.inc({ stream: 'a', kind: 'trade' });
    }
    expect(await tallied.metrics()).toBe(await plain.metrics());
    b.value += 2;
    c.inc({ stream: 'b', kind: 'trade' }, 2);
    a.value++;
    c.inc({ stream: 'a', kind: 'trade' });
    const text = await tallied.metrics();
    expect(text).toBe(await plain.metrics());
    expect(text).toContain('events_total{stream="a",kind="trade"} 4');
    expect(text).toContain('events_total{stream="b",kind="trade"} 2');
    expect(text).not.toContain('stream="c"');
    // Collecting twice does not add the counts again.
    expect(await tallied.metrics()).toBe(text);
  });
});
