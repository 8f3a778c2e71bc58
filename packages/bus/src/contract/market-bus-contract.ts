/**
 * The contract every {@link MarketBus} implementation passes: the in-process one in this package,
 * data-ingest's (the bus with the hub as its producer and history), and any bus between processes.
 * A test file calls {@link describeMarketBusContract} with a factory; the suite publishes through
 * the factory's `publish` (the bus itself, or a producer in front of it) and checks what
 * subscribers see through the port alone.
 */
import { candleIndexOf, openTimeOfCandleIndex } from '@visualgo/market';
import { testCandle, testTrade, waitFor } from '@visualgo/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayOutOfRange, SlowConsumerError } from '../bus-errors.js';
import type { MarketBus, SubscribeOptions } from '../market-bus.js';
import { candleEvent, FEED_STREAM, type MarketEvent, statusEvent, tradeEvent } from '../market-event.js';

/** Streams the suite publishes on; a factory must accept all of them. */
export const CONTRACT_STREAMS = {
  btc: 'btcusdt@kline_1m',
  eth: 'ethusdt@kline_1m',
  trade: 'btcusdt@trade',
} as const;

export interface BusUnderTest {
  readonly bus: MarketBus;
  /**
   * How a producer puts an event on this bus: `bus.publish`, or a producer in front of it that
   * publishes what it is given (in order, as the suite gives it).
   */
  publish(event: MarketEvent): void;
  close(): Promise<void>;
}

export type BusFactory = (streams: readonly string[]) => Promise<BusUnderTest>;

const MINUTE_MS = 60_000;
/** 2024-03-04T00:00Z: candle k of the suite opens k minutes after it. */
const T0 = Date.UTC(2024, 2, 4);
const BASE = candleIndexOf('1m', T0);

const openTime = (k: number) => openTimeOfCandleIndex('1m', BASE + k);
const symbolOf = (stream: string) => stream.slice(0, stream.indexOf('@')).toUpperCase();

/** Candle k of a kline stream: closed, or an open update `atS` seconds into its minute. */
function candle(stream: string, k: number, open?: { atS: number }): MarketEvent {
  const openTimeMs = openTime(k);
  return candleEvent(
    stream,
    testCandle({
      openTimeMs,
      symbol: symbolOf(stream),
      close: 100 + k + (open ? open.atS / 100 : 0),
      closed: open === undefined,
      eventTimeMs: open === undefined ? openTimeMs + MINUTE_MS : openTimeMs + open.atS * 1_000,
      firstTradeId: k * 10,
      lastTradeId: k * 10 + 9,
    }),
  );
}

function trade(id: number): MarketEvent {
  return tradeEvent(CONTRACT_STREAMS.trade, testTrade({ tradeId: id, tradeTimeMs: T0 + id }));
}

interface Reader {
  readonly events: MarketEvent[];
  readonly error: unknown;
  readonly ended: boolean;
  /** Closed candles of `stream` received, as suite indices (k). */
  closed(stream: string): number[];
  /** Resolves once the iteration has ended (normally or with an error). */
  readonly done: Promise<void>;
}

/** Iterates a subscription in the background, keeping what arrives. */
function read(subscription: AsyncIterable<MarketEvent>): Reader {
  const events: MarketEvent[] = [];
  let error: unknown = null;
  let ended = false;
  const done = (async () => {
    try {
      for await (const event of subscription) events.push(event);
    } catch (err) {
      error = err;
    } finally {
      ended = true;
    }
  })();
  return {
    events,
    get error() {
      return error;
    },
    get ended() {
      return ended;
    },
    closed: (stream) =>
      events.flatMap((e) =>
        e.type === 'candle' && e.stream === stream && e.candle.closed ? [e.seq - BASE] : [],
      ),
    done,
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Describes the contract suite against buses made by `factory`. */
export function describeMarketBusContract(name: string, factory: BusFactory): void {
  const { btc, eth, trade: tradeStream } = CONTRACT_STREAMS;
  describe(`MarketBus contract: ${name}`, () => {
    let under: BusUnderTest | null = null;
    const aborts: AbortController[] = [];

    async function start(): Promise<BusUnderTest> {
      under = await factory([btc, eth, tradeStream]);
      return under;
    }

    function subscribe(bus: MarketBus, options: Omit<SubscribeOptions, 'signal'>): Reader {
      const abort = new AbortController();
      aborts.push(abort);
      return read(bus.subscribe({ ...options, signal: abort.signal }));
    }

    afterEach(async () => {
      for (const abort of aborts.splice(0)) abort.abort();
      await under?.close();
      under = null;
    });

    it('delivers what is published after subscribing, in order, each event with its sequence number', async () => {
      const { bus, publish } = await start();
      const sub = subscribe(bus, { streams: [btc, tradeStream] });
      const published = [
        candle(btc, 0, { atS: 10 }),
        candle(eth, 0),
        candle(btc, 0),
        trade(100),
        candle(btc, 1, { atS: 5 }),
        trade(101),
        candle(btc, 1),
      ];
      for (const event of published) publish(event);
      await waitFor('six events', () => sub.events.length >= 6);
      expect(sub.events.map((e) => [e.type, e.stream, e.seq])).toEqual([
        ['candle', btc, BASE],
        ['candle', btc, BASE],
        ['trade', tradeStream, 100],
        ['candle', btc, BASE + 1],
        ['trade', tradeStream, 101],
        ['candle', btc, BASE + 1],
      ]);
      expect(sub.events.map((e) => (e.type === 'candle' ? e.candle.closed : null))).toEqual([
        false,
        true,
        null,
        false,
        null,
        true,
      ]);
      expect(sub.error).toBeNull();
    });

    it('replays closed candles from a sequence number, then continues live with no gap or duplicate', async () => {
      const { bus, publish } = await start();
      for (const k of range(0, 9)) {
        publish(candle(btc, k, { atS: 30 }));
        publish(candle(btc, k));
      }
      const sub = subscribe(bus, { streams: [btc], fromSeq: BASE + 5 });
      await waitFor('the replay', () => sub.closed(btc).length >= 5);
      for (const k of range(10, 12)) {
        publish(candle(btc, k, { atS: 30 }));
        publish(candle(btc, k));
      }
      await waitFor('live candles', () => sub.closed(btc).includes(12));
      expect(sub.closed(btc)).toEqual(range(5, 12));
      // After the replay, live open updates follow for candles not yet closed only.
      const opens = sub.events
        .filter((e) => e.type === 'candle' && !e.candle.closed)
        .map((e) => e.seq - BASE);
      expect(opens).toEqual([10, 11, 12]);
    });

    it('replays the closed candles opened strictly after an open time', async () => {
      const { bus, publish } = await start();
      for (const k of range(0, 9)) publish(candle(btc, k));
      const exact = subscribe(bus, { streams: [btc], sinceOpenTimeMs: openTime(4) });
      const inside = subscribe(bus, { streams: [btc], sinceOpenTimeMs: openTime(4) + 30_000 });
      await waitFor('both replays', () => exact.closed(btc).length >= 5 && inside.closed(btc).length >= 5);
      publish(candle(btc, 10));
      await waitFor(
        'the live candle',
        () => exact.closed(btc).includes(10) && inside.closed(btc).includes(10),
      );
      expect(exact.closed(btc)).toEqual(range(5, 10));
      expect(inside.closed(btc)).toEqual(range(5, 10));
    });

    it('starts a replay from a point not yet reached at that point, and from nothing earlier', async () => {
      const { bus, publish } = await start();
      for (const k of range(0, 4)) publish(candle(btc, k));
      const sub = subscribe(bus, { streams: [btc], fromSeq: BASE + 8 });
      for (const k of range(5, 10)) {
        publish(candle(btc, k, { atS: 1 }));
        publish(candle(btc, k));
      }
      await waitFor('candle 10', () => sub.closed(btc).includes(10));
      expect(sub.closed(btc)).toEqual([8, 9, 10]);
      expect(sub.events.every((e) => e.seq >= BASE + 8)).toBe(true);
    });

    it('joins replay and live by sequence number while a producer publishes concurrently', async () => {
      const { bus, publish } = await start();
      const LAST = 239;
      const subscribers: { from: number | null; joinedAfter: number; reader: Reader }[] = [];
      // Subscribers join at many moments, resuming from points behind the producer, or live; the
      // producer goes on publishing at once, while their replays are prepared.
      const join = (k: number) => {
        const round = subscribers.length;
        const from = round % 4 === 3 ? null : Math.max(0, k - ((round * 7) % 25));
        const options = from === null ? { streams: [btc] } : { streams: [btc], fromSeq: BASE + from };
        subscribers.push({ from, joinedAfter: k, reader: subscribe(bus, options) });
      };
      const producer = (async () => {
        for (let k = 0; k <= LAST; k++) {
          publish(candle(btc, k, { atS: 20 }));
          publish(candle(btc, k, { atS: 40 }));
          publish(candle(btc, k));
          if (k % 20 === 10) join(k);
          if (k % 3 === 0) await yieldToIo();
        }
      })();
      await producer;
      await waitFor('every subscriber at the last candle', () =>
        subscribers.every((s) => s.reader.closed(btc).includes(LAST)),
      );
      expect(subscribers).toHaveLength(12);
      for (const { from, joinedAfter, reader } of subscribers) {
        expect(reader.error).toBeNull();
        // Exactly once and in order, from the point asked (live: the next candle) to the last.
        expect(reader.closed(btc)).toEqual(range(from ?? joinedAfter + 1, LAST));
      }
    });

    it('keeps streams apart: each in order, resumed from its own point, trades live', async () => {
      const { bus, publish } = await start();
      for (const k of range(0, 5)) {
        publish(candle(btc, k));
        publish(candle(eth, k));
        publish(trade(k));
      }
      const sub = subscribe(bus, {
        streams: [btc, eth, tradeStream],
        fromSeq: { [btc]: BASE + 2, [eth]: BASE + 4 },
      });
      await waitFor('the replays', () => sub.closed(btc).length >= 4 && sub.closed(eth).length >= 2);
      for (const k of range(6, 7)) {
        publish(candle(eth, k));
        publish(trade(k));
        publish(candle(btc, k));
      }
      await waitFor('the live events', () => sub.closed(btc).includes(7) && sub.closed(eth).includes(7));
      expect(sub.closed(btc)).toEqual(range(2, 7));
      expect(sub.closed(eth)).toEqual(range(4, 7));
      expect(sub.events.filter((e) => e.type === 'trade').map((e) => e.seq)).toEqual([6, 7]);
    });

    it('gives the current open candle first when asked, and never an open update after its close', async () => {
      const { bus, publish } = await start();
      for (const k of range(0, 2)) publish(candle(btc, k));
      publish(candle(btc, 3, { atS: 10 }));
      publish(candle(btc, 3, { atS: 20 }));
      const sub = subscribe(bus, { streams: [btc], sinceOpenTimeMs: openTime(1), withOpenCandle: true });
      const live = subscribe(bus, { streams: [btc], withOpenCandle: true });
      await waitFor('replay and open candle', () => sub.events.length >= 2 && live.events.length >= 1);
      publish(candle(btc, 3, { atS: 40 }));
      publish(candle(btc, 3));
      publish(candle(btc, 3, { atS: 50 })); // late: its candle has closed
      publish(candle(btc, 4, { atS: 1 }));
      await waitFor('candle 4 opening', () =>
        [sub, live].every((r) => r.events.some((e) => e.seq === BASE + 4)),
      );
      const shape = (r: Reader) =>
        r.events.map((e) =>
          e.type === 'candle'
            ? `${e.seq - BASE}${e.candle.closed ? '' : `@${(e.candle.eventTimeMs - openTime(e.seq - BASE)) / 1000}`}`
            : e.type,
        );
      expect(shape(sub)).toEqual(['2', '3@20', '3@40', '3', '4@1']);
      expect(shape(live)).toEqual(['3@20', '3@40', '3', '4@1']);
    });

    it('delivers status events to the subscribers of the stream they concern, in order with its events', async () => {
      const { bus, publish } = await start();
      const all = subscribe(bus, { streams: [btc, FEED_STREAM] });
      const statusOnly = subscribe(bus, { streams: [btc, eth, FEED_STREAM], types: ['status'] });
      const candlesOnly = subscribe(bus, { streams: [btc], types: ['candle'] });
      const gap = statusEvent(btc, {
        kind: 'gap-filled',
        fromOpenTimeMs: openTime(1),
        toOpenTimeMs: openTime(1),
        timeMs: T0,
      });
      publish(candle(btc, 0));
      publish(gap);
      publish(candle(btc, 1));
      publish(statusEvent(FEED_STREAM, { kind: 'disconnected', detail: 'connection reset', timeMs: T0 + 1 }));
      publish(statusEvent(eth, { kind: 'connected', timeMs: T0 + 2 }));
      publish(candle(btc, 2));
      await waitFor('every event', () => all.closed(btc).includes(2) && statusOnly.events.length >= 3);
      await waitFor('candles', () => candlesOnly.closed(btc).includes(2));
      expect(all.events.map((e) => `${e.type}:${e.stream}`)).toEqual([
        `candle:${btc}`,
        `status:${btc}`,
        `candle:${btc}`,
        `status:${FEED_STREAM}`,
        `candle:${btc}`,
      ]);
      expect(all.events[1]).toMatchObject({ seq: BASE + 1, status: { kind: 'gap-filled' } });
      expect(statusOnly.events.map((e) => (e.type === 'status' ? e.status.kind : e.type))).toEqual([
        'gap-filled',
        'disconnected',
        'connected',
      ]);
      expect(candlesOnly.events.map((e) => e.type)).toEqual(['candle', 'candle', 'candle']);
    });

    it('ends an iteration cleanly on abort, also when aborted before subscribing', async () => {
      const { bus, publish } = await start();
      const abort = new AbortController();
      const waiting = read(bus.subscribe({ streams: [btc], signal: abort.signal }));
      const other = subscribe(bus, { streams: [btc] });
      publish(candle(btc, 0));
      await waitFor('the first candle', () => waiting.events.length === 1 && other.events.length === 1);
      abort.abort();
      await waiting.done;
      expect(waiting.error).toBeNull();
      const early = read(bus.subscribe({ streams: [btc], signal: AbortSignal.abort() }));
      await early.done;
      expect(early.events).toEqual([]);
      expect(early.error).toBeNull();
      // Leaving a loop ends that subscription too; the others go on.
      let seen = 0;
      const leaving = (async () => {
        for await (const _ of bus.subscribe({ streams: [btc] })) if (++seen === 1) break;
      })();
      publish(candle(btc, 1));
      publish(candle(btc, 2));
      await leaving;
      await waitFor('the other subscriber', () => other.closed(btc).includes(2));
      expect(other.closed(btc)).toEqual([0, 1, 2]);
      expect(waiting.closed(btc)).toEqual([0]);
      expect(seen).toBe(1);
    });

    it('cuts off a subscriber that falls behind with SlowConsumerError; publishers and the others never wait', async () => {
      const { bus, publish } = await start();
      const slowAbort = new AbortController();
      aborts.push(slowAbort);
      const slow = bus.subscribe({ streams: [btc], maxQueued: 10, signal: slowAbort.signal });
      const fast = subscribe(bus, { streams: [btc], maxQueued: 1_000 });
      // Published in one go: the slow subscriber is not read while it happens.
      for (const k of range(0, 49)) publish(candle(btc, k));
      await waitFor('the fast subscriber', () => fast.closed(btc).includes(49));
      expect(fast.closed(btc)).toEqual(range(0, 49));
      const iterator = slow[Symbol.asyncIterator]();
      const outcome = await iterator.next().then(
        () => null,
        (err: unknown) => err,
      );
      expect(outcome).toBeInstanceOf(SlowConsumerError);
      expect(String(outcome)).toContain('10');
      expect(await iterator.next()).toMatchObject({ done: true });
      publish(candle(btc, 50));
      await waitFor('the fast subscriber', () => fast.closed(btc).includes(50));
    });

    it('refuses a replay from further back than it serves with ReplayOutOfRange', async () => {
      const { bus, publish } = await start();
      for (const k of range(0, 2)) publish(candle(btc, k));
      const sub = subscribe(bus, { streams: [btc], sinceOpenTimeMs: 1 });
      await sub.done;
      expect(sub.error).toBeInstanceOf(ReplayOutOfRange);
      expect(sub.events).toEqual([]);
    });
  });
}
