import { testCandle } from '@visualgo/testing';
import { describe, expect, it } from 'vitest';
import type { SlowConsumerError } from './bus-errors.js';
import { follow } from './follow.js';
import { LocalBus } from './local-bus.js';
import { candleEvent } from './market-event.js';

const STREAM = 'btcusdt@kline_1m';
const T0 = Date.UTC(2024, 2, 4);
const closed = (i: number) => candleEvent(STREAM, testCandle({ openTimeMs: T0 + i * 60_000 }));

describe('follow', () => {
  it('takes the subscription up again, live, after being cut off, and says so', async () => {
    const bus = new LocalBus();
    const abort = new AbortController();
    const seen: number[] = [];
    const cuts: SlowConsumerError[] = [];
    const following = follow(
      bus,
      { streams: [STREAM], maxQueued: 5, signal: abort.signal, onCutOff: (err) => cuts.push(err) },
      (e) => seen.push(e.seq - closed(0).seq),
    );
    // Seven in one go, before the follower runs: the first is handed over, five queue, one is too many.
    for (let i = 0; i < 7; i++) bus.publish(closed(i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(cuts).toHaveLength(1);
    bus.publish(closed(7));
    await new Promise((resolve) => setImmediate(resolve));
    // The first went straight to the waiting follower; the queued ones were lost with the cut.
    expect(seen).toEqual([0, 7]);
    abort.abort();
    await following;
    expect(bus.subscriberCount).toBe(0);
  });

  it('stops at the first other failure and reports it', async () => {
    const broken = new Error('bus connection lost');
    const errors: unknown[] = [];
    let subscriptions = 0;
    const bus = {
      publish: () => {},
      subscribe: () => {
        subscriptions++;
        return {
          [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(broken) }),
        };
      },
    };
    const signal = new AbortController().signal;
    await follow(bus, { streams: [STREAM], signal, onError: (e) => errors.push(e) }, () => {});
    expect(errors).toEqual([broken]);
    expect(subscriptions).toBe(1);
  });
});
