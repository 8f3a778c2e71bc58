import { testCandle } from '@visualgo/testing';
import { describe, expect, it } from 'vitest';
import { CandleRetention, type ReplaySource } from './candle-retention.js';
import { describeMarketBusContract } from './contract/market-bus-contract.js';
import { LocalBus } from './local-bus.js';
import { candleEvent, type MarketEvent } from './market-event.js';
import { WireForm } from './wire-form.js';

describeMarketBusContract('LocalBus keeping its own candles', async () => {
  const bus = new LocalBus({ retainCandles: 500 });
  return { bus, publish: (event) => bus.publish(event), close: async () => {} };
});

/**
 * The producer keeps the record and the bus reads it back after a few turns of the event loop, as
 * it does from data-ingest's books and the exchange behind them: live events keep coming while a
 * replay is prepared, so the seam is joined by sequence numbers or not at all.
 */
describeMarketBusContract('LocalBus replaying from a record that answers later', async () => {
  const record = new CandleRetention(500);
  const history: ReplaySource = {
    async closedSince(stream, since) {
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      return record.closedSince(stream, since);
    },
  };
  const bus = new LocalBus({ history });
  return {
    bus,
    publish(event) {
      if (event.type === 'candle' && event.candle.closed) record.append(event.stream, event.candle);
      bus.publish(event);
    },
    close: async () => {},
  };
});

const STREAM = 'btcusdt@kline_1m';
const T0 = Date.UTC(2024, 2, 4);

describe('LocalBus', () => {
  it('hands every subscriber the same event object, so a wire form is encoded once', async () => {
    const bus = new LocalBus();
    let encoded = 0;
    const text = new WireForm('test-json', (e: MarketEvent) => {
      encoded++;
      return JSON.stringify(e);
    });
    const abort = new AbortController();
    const received: string[][] = [[], [], []];
    const loops = received.map(async (into) => {
      for await (const event of bus.subscribe({ streams: [STREAM], signal: abort.signal })) {
        into.push(text.of(event));
        if (into.length === 3) return;
      }
    });
    for (let i = 0; i < 3; i++) bus.publish(candleEvent(STREAM, testCandle({ openTimeMs: T0 + i * 60_000 })));
    await Promise.all(loops);
    abort.abort();
    expect(encoded).toBe(3);
    expect(received[0]).toEqual(received[2]);
  });

  it('forgets a subscriber once it is aborted, cut off, or left', async () => {
    const bus = new LocalBus();
    const abort = new AbortController();
    const aborted = bus.subscribe({ streams: [STREAM], signal: abort.signal });
    const slow = bus.subscribe({ streams: [STREAM, 'ethusdt@kline_1m'], maxQueued: 1 });
    const left = bus.subscribe({ streams: [STREAM] });
    expect(bus.subscriberCount).toBe(3);
    abort.abort();
    expect(bus.subscriberCount).toBe(2);
    for (let i = 0; i < 3; i++) bus.publish(candleEvent(STREAM, testCandle({ openTimeMs: T0 + i * 60_000 })));
    expect(bus.subscriberCount).toBe(1);
    await left.return();
    expect(bus.subscriberCount).toBe(0);
    await expect(slow.next()).rejects.toThrow('more than 1 events queued');
    expect(await aborted.next()).toEqual({ value: undefined, done: true });
  });

  it('refuses fromSeq and sinceOpenTimeMs together', () => {
    expect(() => new LocalBus().subscribe({ streams: [STREAM], fromSeq: 1, sinceOpenTimeMs: 1 })).toThrow(
      RangeError,
    );
  });
});

describe('WireForm', () => {
  it('keeps an encoding out of the event as data: JSON and a structured clone see the event only', () => {
    const event = candleEvent(STREAM, testCandle({ openTimeMs: T0 }));
    const before = JSON.stringify(event);
    const form = new WireForm('test', (e: MarketEvent) => `encoded ${e.seq}`);
    expect(form.of(event)).toBe(`encoded ${event.seq}`);
    expect(JSON.stringify(event)).toBe(before);
    expect(structuredClone(event)).toEqual(JSON.parse(before));
    expect(Object.keys(event)).toEqual(['type', 'stream', 'seq', 'candle']);
  });
});
