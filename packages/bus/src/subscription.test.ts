import { testCandle } from '@visualgo/testing';
import { describe, expect, it } from 'vitest';
import { SlowConsumerError } from './bus-errors.js';
import { candleEvent, type MarketEvent } from './market-event.js';
import { Subscription } from './subscription.js';

const STREAM = 'btcusdt@kline_1m';
const T0 = Date.UTC(2024, 2, 4);
const closed = (i: number) => candleEvent(STREAM, testCandle({ openTimeMs: T0 + i * 60_000 }));

function subscription(maxQueued: number) {
  let detached = 0;
  const s = new Subscription(new Set([STREAM]), new Set(['candle', 'trade', 'status']), maxQueued, () => {
    detached++;
  });
  return { s, detached: () => detached };
}

async function drain(s: Subscription, n: number): Promise<MarketEvent[]> {
  const out: MarketEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = await s.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('Subscription', () => {
  it('queues exactly maxQueued live events for a consumer that does not read, and cuts off at the next', async () => {
    // Mutation guard: a bound multiplied by anything would let event 11 through.
    const { s, detached } = subscription(10);
    for (let i = 0; i < 10; i++) s.offer(closed(i));
    expect(s.queued).toBe(10);
    expect(s.isEnded).toBe(false);
    s.offer(closed(10));
    expect(s.isEnded).toBe(true);
    expect(detached()).toBe(1);
    await expect(s.next()).rejects.toThrow(
      new SlowConsumerError('subscriber too slow: more than 10 events queued'),
    );
    expect(await s.next()).toEqual({ value: undefined, done: true });
  });

  it('does not count a replay against the live bound', async () => {
    // Mutation guard: counting the replay would cut this subscriber off at its first live event.
    const { s } = subscription(10);
    let release: (events: MarketEvent[]) => void = () => {};
    s.replayFrom(new Promise((resolve) => (release = resolve)));
    for (let i = 5_000; i < 5_010; i++) s.offer(closed(i));
    release(Array.from({ length: 5_000 }, (_, i) => closed(i)));
    const got = await drain(s, 5_010);
    expect(got.map((e) => e.seq - closed(0).seq)).toEqual(Array.from({ length: 5_010 }, (_, i) => i));
    expect(s.isEnded).toBe(false);
  });

  it('drops live events the replay already delivered, by sequence number', async () => {
    const { s } = subscription(100);
    let release: (events: MarketEvent[]) => void = () => {};
    s.replayFrom(new Promise((resolve) => (release = resolve)));
    // Published while the replay was prepared: 3 and 4 are in it too.
    for (const i of [3, 4, 5, 6]) s.offer(closed(i));
    release([1, 2, 3, 4].map(closed));
    expect((await drain(s, 6)).map((e) => e.seq - closed(0).seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('ends with the replay failure and lets go of its queue', async () => {
    const { s, detached } = subscription(100);
    s.replayFrom(Promise.reject(new Error('exchange down')));
    s.offer(closed(1));
    await expect(s.next()).rejects.toThrow('exchange down');
    expect(s.queued).toBe(0);
    expect(detached()).toBe(1);
  });
});
