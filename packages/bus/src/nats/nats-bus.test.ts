import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { candleIndexOf, openTimeOfCandleIndex } from '@visualgo/market';
import { TestNatsServer, testCandle, testTrade, waitFor } from '@visualgo/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeMarketBusContract } from '../contract/market-bus-contract.js';
import {
  type CandleEvent,
  candleEvent,
  FEED_STREAM,
  type MarketEvent,
  statusEvent,
  tradeEvent,
} from '../market-event.js';
import { partitionOf } from '../subject.js';
import { NatsBus, type NatsBusOptions } from './nats-bus.js';
import { CANDLE_STREAM, KLINE_STREAM } from './nats-streams.js';

let server: TestNatsServer;

beforeAll(async () => {
  server = await TestNatsServer.start();
});

afterAll(async () => {
  await server?.stop();
});

/** Every test of the suite starts from empty streams (and an empty duplicate window). */
async function deleteStreams(): Promise<void> {
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [KLINE_STREAM, CANDLE_STREAM]) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}

describeMarketBusContract('NatsBus, one bus publishing and subscribing', async () => {
  await deleteStreams();
  const bus = await NatsBus.connect({ servers: server.url, name: 'contract' }, { venue: 'binance-sim' });
  return { bus, publish: (event) => bus.publish(event), close: () => bus.close() };
});

/**
 * Two producers publish the same market data, as two data-ingest instances owning one upstream
 * shard do; the subscriber's bus is one of them. Every candle and trade reaches the store and the
 * subscribers once. (Status events are each producer's own report, so only one publishes them.)
 */
describeMarketBusContract('NatsBus, two producers of the same streams', async () => {
  await deleteStreams();
  const bus = await NatsBus.connect({ servers: server.url, name: 'contract-a' }, { venue: 'binance-sim' });
  const other = await NatsBus.connect({ servers: server.url, name: 'contract-b' }, { venue: 'binance-sim' });
  return {
    bus,
    publish(event) {
      if (event.type !== 'status') other.publish(event);
      bus.publish(event);
    },
    async close() {
      await other.close();
      await bus.close();
    },
  };
});

const T0 = Date.UTC(2024, 2, 4);
const BASE = candleIndexOf('1m', T0);
const BTC = 'btcusdt@kline_1m';
const ETH = 'ethusdt@kline_1m';
const BTC_TRADES = 'btcusdt@trade';
const openTime = (k: number) => openTimeOfCandleIndex('1m', BASE + k);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Candle k of a stream: closed, or an open update `atS` seconds in with `trades` trades so far. */
function candle(stream: string, k: number, open?: { atS: number; trades?: number }): CandleEvent {
  const symbol = stream.slice(0, stream.indexOf('@')).toUpperCase();
  const openTimeMs = openTime(k);
  const trades = open ? (open.trades ?? open.atS) : 60;
  return candleEvent(
    stream,
    testCandle({
      symbol,
      openTimeMs,
      close: 100 + k,
      closed: open === undefined,
      eventTimeMs: openTimeMs + (open ? open.atS * 1_000 : 60_000),
      firstTradeId: k * 100,
      lastTradeId: k * 100 + trades - 1,
    }),
  );
}

interface Got {
  readonly events: MarketEvent[];
  error: unknown;
  closed(stream: string): number[];
}

function collect(subscription: AsyncIterable<MarketEvent>): Got {
  const got: Got = {
    events: [],
    error: null,
    closed: (stream) =>
      got.events.flatMap((e) =>
        e.type === 'candle' && e.stream === stream && e.candle.closed ? [e.seq - BASE] : [],
      ),
  };
  void (async () => {
    try {
      for await (const event of subscription) got.events.push(event);
    } catch (err) {
      got.error = err;
    }
  })();
  return got;
}

describe('NatsBus between processes', () => {
  const buses: NatsBus[] = [];
  let abort = new AbortController();
  let name = 0;

  async function bus(options: Partial<NatsBusOptions> = {}): Promise<NatsBus> {
    const b = await NatsBus.connect(
      { servers: server.url, name: `process-${++name}` },
      { venue: 'binance-sim', ...options },
    );
    buses.push(b);
    return b;
  }

  beforeEach(async () => {
    abort = new AbortController();
    await deleteStreams();
  });

  afterEach(async () => {
    abort.abort();
    for (const b of buses.splice(0)) await b.close();
  });

  it('gives a subscriber in another process every closed candle once, in order, whenever it joins', async () => {
    const producer = await bus();
    const consumer = await bus();
    const LAST = 199;
    const joined: { from: number | null; got: Got }[] = [];
    for (let k = 0; k <= LAST; k++) {
      producer.publish(candle(BTC, k, { atS: 20 }));
      producer.publish(candle(BTC, k));
      if (k % 25 === 12) {
        const from = joined.length % 3 === 2 ? null : Math.max(0, k - 10 * joined.length);
        const options = from === null ? {} : { fromSeq: BASE + from };
        joined.push({
          from,
          got: collect(consumer.subscribe({ streams: [BTC], signal: abort.signal, ...options })),
        });
      }
      if (k % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(
      'every subscriber at the last candle',
      () => joined.every((j) => j.got.closed(BTC).includes(LAST)),
      15_000,
    );
    for (const { from, got } of joined) {
      expect(got.error).toBeNull();
      const seen = got.closed(BTC);
      // Resumed: exactly from the point asked. Live: from wherever it came in, with no hole.
      expect(seen).toEqual(range(from ?? (seen[0] as number), LAST));
    }
  });

  it('drops what two producers both publish and what one of them sends late', async () => {
    const a = await bus();
    const b = await bus();
    const consumer = await bus();
    const got = collect(consumer.subscribe({ streams: [BTC, BTC_TRADES], signal: abort.signal }));
    await consumer.connection.flush();
    const trade = (id: number) => tradeEvent(BTC_TRADES, testTrade({ tradeId: id }));
    const step = (k: number) => [
      candle(BTC, k, { atS: 10, trades: 5 }),
      trade(k * 2),
      trade(k * 2 + 1),
      candle(BTC, k, { atS: 30, trades: 9 }),
      candle(BTC, k),
    ];
    for (let k = 0; k < 20; k++) {
      for (const e of step(k)) a.publish(e);
      // `b` publishes the same, a step behind: its copies arrive after `a`'s, some after `a` moved on.
      if (k > 0) for (const e of step(k - 1)) b.publish(e);
      if (k % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    for (const e of step(19)) b.publish(e);
    await a.flush();
    await b.flush();
    await waitFor('the last candle', () => got.closed(BTC).includes(19));
    expect(got.closed(BTC)).toEqual(range(0, 19));
    expect(got.events.filter((e) => e.type === 'trade').map((e) => e.seq)).toEqual(range(0, 39));
    const opens = got.events.filter((e) => e.type === 'candle' && !e.candle.closed) as CandleEvent[];
    expect(opens.map((e) => `${e.seq - BASE}/${e.candle.lastTradeId % 100}`)).toEqual(
      range(0, 19).flatMap((k) => [`${k}/4`, `${k}/8`]),
    );
    expect(await consumer.history.closedSince(BTC, openTime(-1))).toHaveLength(20);
  });

  it('puts trades from two producers out of step back in id order, and reports a hole nobody fills', async () => {
    const ahead = await bus();
    const behind = await bus();
    const consumer = await bus({ tradeGapWaitMs: 300 });
    const got = collect(consumer.subscribe({ streams: [BTC_TRADES], signal: abort.signal }));
    await consumer.connection.flush();
    const trade = (id: number) => tradeEvent(BTC_TRADES, testTrade({ tradeId: id }));
    ahead.publish(trade(1));
    await ahead.flush();
    await waitFor('trade 1', () => got.events.length === 1);
    // One producer is ahead: 4..6 arrive before 2..3, which only the lagging one has.
    for (const id of [4, 5, 6]) ahead.publish(trade(id));
    await ahead.flush();
    for (const id of [2, 3, 4]) behind.publish(trade(id));
    await waitFor('trade 6', () => got.events.some((e) => e.seq === 6));
    // Trade 7 is lost by both: after the wait, 8 goes out after a report of the hole.
    ahead.publish(trade(8));
    await waitFor('trade 8', () => got.events.some((e) => e.type === 'trade' && e.seq === 8), 5_000);
    expect(got.events.map((e) => (e.type === 'trade' ? e.seq : `${e.type}`))).toEqual([
      1,
      2,
      3,
      4,
      5,
      6,
      'status',
      8,
    ]);
    expect(got.events[6]).toMatchObject({
      type: 'status',
      status: { kind: 'gap-unfilled', fromTradeId: 7, toTradeId: 7 },
    });
  });

  it('delivers from the store the closed candles live delivery missed, before later ones', async () => {
    const producer = await bus();
    const consumer = await bus();
    const recovered: number[] = [];
    const observed = await bus({ observer: { recovered: (_s, n) => recovered.push(n) } });
    const got = collect(observed.subscribe({ streams: [BTC], signal: abort.signal }));
    const other = collect(consumer.subscribe({ streams: [BTC], signal: abort.signal }));
    await observed.connection.flush();
    await consumer.connection.flush();
    producer.publish(candle(BTC, 0));
    // Candles 1..4 reach the store but were never announced (a producer died between the two).
    await producer.storeHistory(range(1, 4).map((k) => candle(BTC, k)));
    producer.publish(candle(BTC, 5, { atS: 1 }));
    producer.publish(candle(BTC, 5));
    await waitFor('candle 5', () => got.closed(BTC).includes(5) && other.closed(BTC).includes(5));
    expect(got.closed(BTC)).toEqual(range(0, 5));
    expect(other.closed(BTC)).toEqual(range(0, 5));
    expect(recovered).toEqual([4]);
  });

  it('loses no closed candle and doubles none when nats-server restarts under a producer and subscribers', async () => {
    const producer = await bus();
    const consumer = await bus();
    const got = collect(consumer.subscribe({ streams: [BTC, ETH, FEED_STREAM], signal: abort.signal }));
    const resumed = collect(consumer.subscribe({ streams: [ETH], fromSeq: BASE, signal: abort.signal }));
    await consumer.connection.flush();
    const LAST = 299;
    let restarted = false;
    for (let k = 0; k <= LAST; k++) {
      for (const s of [BTC, ETH]) {
        producer.publish(candle(s, k, { atS: 30 }));
        producer.publish(candle(s, k));
      }
      if (k === 100) {
        await waitFor('candle 90 through', () => got.closed(ETH).includes(90), 10_000);
        await server.restart();
        restarted = true;
      }
      if (k % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(restarted).toBe(true);
    await waitFor(
      'the last candles',
      () =>
        got.closed(BTC).includes(LAST) &&
        got.closed(ETH).includes(LAST) &&
        resumed.closed(ETH).includes(LAST),
      20_000,
    );
    expect(got.closed(BTC)).toEqual(range(0, LAST));
    expect(got.closed(ETH)).toEqual(range(0, LAST));
    expect(resumed.closed(ETH)).toEqual(range(0, LAST));
    for (const s of [BTC, ETH])
      expect((await consumer.history.closedSince(s, openTime(-1))).map((c) => c.close)).toEqual(
        range(100, 100 + LAST),
      );
    const statuses = got.events.flatMap((e) => (e.type === 'status' ? [e.status.kind] : []));
    expect(statuses).toEqual(['disconnected', 'connected']);
  });

  it('takes from NATS only the streams its subscribers want, once each, and lets go after the last', async () => {
    const gateway = await bus();
    const subjectsOf = async () =>
      (await server.subscriptions()).get(`process-${name}`)?.filter((s) => s.startsWith('md.')) ?? [];
    const first = new AbortController();
    const second = new AbortController();
    collect(gateway.subscribe({ streams: [BTC], signal: first.signal }));
    collect(gateway.subscribe({ streams: [BTC, BTC_TRADES], signal: second.signal }));
    await gateway.connection.flush();
    expect(await subjectsOf()).toEqual([
      `md.binance-sim.candle.1m.BTCUSDT.${partitionOf('BTCUSDT')}`,
      `md.binance-sim.status.-.BTCUSDT.${partitionOf('BTCUSDT')}`,
      `md.binance-sim.status.1m.BTCUSDT.${partitionOf('BTCUSDT')}`,
      `md.binance-sim.trade.-.BTCUSDT.${partitionOf('BTCUSDT')}`,
    ]);
    expect(gateway.liveStreams).toEqual([BTC, BTC_TRADES]);
    second.abort();
    await gateway.connection.flush();
    expect(gateway.liveStreams).toEqual([BTC]);
    expect(await subjectsOf()).toHaveLength(2);
    first.abort();
    await gateway.connection.flush();
    expect(gateway.liveStreams).toEqual([]);
    expect(await subjectsOf()).toEqual([]);
  });

  it('serves the streams a producer publishes itself from its own publishing, taking none of them from NATS', async () => {
    // Two owners of a shard: each would otherwise be sent the other's copy of everything it produces.
    const owner = await bus({ produced: [BTC, BTC_TRADES, FEED_STREAM] });
    const other = await bus({ produced: [BTC, BTC_TRADES, FEED_STREAM] });
    const ownerName = `process-${name - 1}`;
    const got = collect(owner.subscribe({ streams: [BTC, BTC_TRADES, FEED_STREAM], signal: abort.signal }));
    await owner.connection.flush();
    expect((await server.subscriptions()).get(ownerName)?.filter((s) => s.startsWith('md.'))).toEqual([]);
    // The other owner's events never arrive; its own do, and the store still gets the other's.
    other.publish(candle(BTC, 0));
    other.publish(tradeEvent(BTC_TRADES, testTrade({ symbol: 'BTCUSDT', tradeId: 1 })));
    await other.flush();
    owner.publish(candle(BTC, 1));
    owner.publish(tradeEvent(BTC_TRADES, testTrade({ symbol: 'BTCUSDT', tradeId: 2 })));
    await owner.flush();
    await waitFor("the owner's trade", () => got.events.some((e) => e.type === 'trade'));
    expect(got.events.map((e) => [e.type, e.seq])).toEqual([
      ['candle', BASE + 1],
      ['trade', 2],
    ]);
    expect((await owner.history.closedSince(BTC, openTime(-1))).map((c) => c.openTimeMs)).toEqual([
      openTime(0),
      openTime(1),
    ]);
  });

  it('gives a subscriber one feed status of a stream that two producers each report', async () => {
    const a = await bus({ source: 'data-ingest-0' });
    const b = await bus({ source: 'data-ingest-1' });
    const consumer = await bus();
    const got = collect(consumer.subscribe({ streams: [BTC], types: ['status'], signal: abort.signal }));
    await consumer.connection.flush();
    const status = (kind: 'connected' | 'disconnected', detail: string) =>
      statusEvent(BTC, { kind, detail, timeMs: Date.now() });
    // One after the other (each out before the next): two connections are not ordered between them.
    for (const [producer, kind, detail] of [
      [a, 'connected', 'a up'],
      [b, 'connected', 'b up'],
      [b, 'disconnected', 'b down'],
      [a, 'disconnected', 'a down'],
      [b, 'connected', 'b up again'],
    ] as const) {
      producer.publish(status(kind, detail));
      await producer.flush();
    }
    await waitFor('the last status', () =>
      got.events.some((e) => e.type === 'status' && e.status.detail === 'b up again'),
    );
    expect(got.events.map((e) => (e.type === 'status' ? [e.status.kind, e.status.source] : []))).toEqual([
      ['connected', 'data-ingest-0'],
      ['disconnected', 'data-ingest-0'],
      ['connected', 'data-ingest-1'],
    ]);
  });

  it('drops and reports a message that is not a bus event, and goes on', async () => {
    const reasons: string[] = [];
    const consumer = await bus({ observer: { malformed: (_subject, reason) => reasons.push(reason) } });
    const producer = await bus();
    const got = collect(consumer.subscribe({ streams: [BTC], signal: abort.signal }));
    await consumer.connection.flush();
    const subject = `md.binance-sim.candle.1m.BTCUSDT.${partitionOf('BTCUSDT')}`;
    producer.connection.publish(subject, 'not json');
    producer.connection.publish(subject, JSON.stringify({ ...candle(BTC, 0, { atS: 1 }), seq: 7 }));
    producer.connection.publish(subject, JSON.stringify({ ...candle(ETH, 0, { atS: 1 }) }));
    producer.publish(candle(BTC, 0));
    await waitFor('the good candle', () => got.closed(BTC).length === 1);
    expect(reasons).toEqual(['not JSON', 'seq is not the candle index']);
    expect(got.events).toHaveLength(1);
  });
});
