import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { createLogger } from '@visualgo/platform';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BinanceStreamClient,
  type BinanceStreamClientOptions,
  type DisconnectedEvent,
  type KlineUpdate,
  type MalformedEvent,
  type TradeUpdate,
} from './binance-client.js';
import { FakeBinanceStreams, klineEvent, tradeEvent, waitFor } from './fake-binance-streams.js';

const logger = createLogger({ name: 'binance-client-test', level: 'silent' });

const fakes: FakeBinanceStreams[] = [];
const clients: BinanceStreamClient[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function fake(options?: Parameters<typeof FakeBinanceStreams.start>[0]): Promise<FakeBinanceStreams> {
  const f = await FakeBinanceStreams.start(options);
  fakes.push(f);
  return f;
}

interface Recorder {
  readonly klines: KlineUpdate[];
  readonly trades: TradeUpdate[];
  readonly connected: string[];
  readonly disconnected: DisconnectedEvent[];
  readonly malformed: MalformedEvent[];
}

function client(
  options: Partial<BinanceStreamClientOptions> & Pick<BinanceStreamClientOptions, 'wsBaseUrl' | 'streams'>,
): { client: BinanceStreamClient; events: Recorder } {
  const c = new BinanceStreamClient({
    exchange: 'binance-sim',
    logger,
    backoff: { initialMs: 30, maxMs: 100, jitter: 0 },
    staleAfterMs: 5000,
    ...options,
  });
  clients.push(c);
  const events: Recorder = { klines: [], trades: [], connected: [], disconnected: [], malformed: [] };
  c.on('kline', (e) => events.klines.push(e));
  c.on('trade', (e) => events.trades.push(e));
  c.on('connected', (e) => events.connected.push(e.connectionId));
  c.on('disconnected', (e) => events.disconnected.push(e));
  c.on('malformed', (e) => events.malformed.push(e));
  return { client: c, events };
}

/** Publishes trade `seq` to every connection subscribed to `stream` every `everyMs`. */
function tradeGenerator(f: FakeBinanceStreams, stream: string, everyMs = 5) {
  const symbol = stream.split('@')[0] ?? '';
  let seq = 0;
  const timer = setInterval(() => {
    seq++;
    f.publish(stream, tradeEvent(symbol, seq));
  }, everyMs);
  timers.push(timer);
  return {
    get last() {
      return seq;
    },
    stop: () => clearInterval(timer),
  };
}

function assertContiguous(ids: readonly number[], last: number): void {
  const unique = new Set(ids);
  const missing: number[] = [];
  for (let i = 1; i <= last; i++) if (!unique.has(i)) missing.push(i);
  expect(missing).toEqual([]);
}

describe('BinanceStreamClient: connecting and delivering', () => {
  it('opens a combined-stream connection and emits mapped klines and trades, the wire format left behind', async () => {
    const f = await fake();
    const { client: c, events } = client({
      wsBaseUrl: f.url,
      streams: ['btcusdt@kline_1m', 'ethusdt@trade'],
    });
    c.start();
    await waitFor(() => events.connected.length === 1, 3000, 'connected');
    expect(f.connections[0]?.path).toBe('/stream');
    expect(f.connections[0]?.query).toBe('btcusdt@kline_1m/ethusdt@trade');

    const kline = klineEvent('btcusdt', '1m', 1700000040000, 1700000041000);
    f.publish('btcusdt@kline_1m', kline);
    f.publish('ethusdt@trade', tradeEvent('ethusdt', 7));
    await waitFor(() => events.klines.length === 1 && events.trades.length === 1, 3000, 'events');

    const k = events.klines[0];
    expect(k?.stream).toBe('btcusdt@kline_1m');
    expect(Object.keys(k ?? {}).sort()).toEqual(['candle', 'connectionId', 'stream']);
    expect(k?.connectionId).toBe(events.connected[0]);
    expect(k?.candle).toMatchObject({
      exchange: 'binance-sim',
      symbol: 'BTCUSDT',
      interval: '1m',
      openTimeMs: 1700000040000,
      close: 27010.5,
      eventTimeMs: 1700000041000,
      closed: false,
    });
    expect(events.trades[0]?.trade).toMatchObject({ tradeId: 7, symbol: 'ETHUSDT', price: 27000.1 });
    expect(c.stats().messagesByStream).toEqual({ 'btcusdt@kline_1m': 1, 'ethusdt@trade': 1 });
    expect(c.stats().openConnections).toBe(1);
  });

  it('answers server pings with the same payload', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    c.start();
    await waitFor(() => events.connected.length === 1);
    f.connections[0]?.ws.ping('keepalive-1');
    await waitFor(() => (f.connections[0]?.pongs.length ?? 0) === 1, 2000, 'pong');
    expect(f.connections[0]?.pongs).toEqual(['keepalive-1']);
  });

  it('keeps the reason for a malformed frame short, whatever the frame quoted', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    c.start();
    await waitFor(() => events.connected.length === 1);
    const ws = f.connections[0]?.ws;
    ws?.send(JSON.stringify({ stream: 'btcusdt@trade', data: { e: 'x'.repeat(10_000) } }));
    ws?.send(JSON.stringify({ stream: `${'s'.repeat(10_000)}@depth`, data: {} }));
    await waitFor(() => events.malformed.length === 2, 2000, 'two malformed frames');
    for (const m of events.malformed) {
      expect(m.reason.length).toBeLessThanOrEqual(230);
      expect(m.reason).toMatch(/…\(\d+ more chars\)$/);
    }
  });

  it('counts and drops malformed frames and keeps the connection', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    c.start();
    await waitFor(() => events.connected.length === 1);
    const ws = f.connections[0]?.ws;
    ws?.send('not json');
    ws?.send('{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"');
    ws?.send(JSON.stringify({ stream: 'btcusdt@trade', data: { ...tradeEvent('btcusdt', 1), p: '' } }));
    ws?.send(JSON.stringify({ stream: 'btcusdt@trade', data: tradeEvent('ethusdt', 2) }));
    ws?.send(Buffer.from([1, 2, 3]), { binary: true });
    f.publish('btcusdt@trade', tradeEvent('btcusdt', 3));
    await waitFor(() => events.trades.length === 1, 2000, 'valid trade after bad ones');
    expect(events.malformed.length).toBe(5);
    expect(events.malformed.every((m) => m.connectionId === events.connected[0])).toBe(true);
    expect(c.stats().malformed).toBe(5);
    expect(events.trades[0]?.trade.tradeId).toBe(3);
    expect(events.disconnected).toEqual([]);
    expect(f.connections.length).toBe(1);
  });

  it('keeps delivering to other listeners when one listener throws', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    c.on('trade', () => {
      throw new Error('consumer bug');
    });
    c.start();
    await waitFor(() => events.connected.length === 1);
    f.publish('btcusdt@trade', tradeEvent('btcusdt', 1));
    f.publish('btcusdt@trade', tradeEvent('btcusdt', 2));
    await waitFor(() => events.trades.length === 2);
    expect(events.disconnected).toEqual([]);
  });

  it('rejects stream names it cannot consume before changing anything', () => {
    expect(() => client({ wsBaseUrl: 'ws://127.0.0.1:1', streams: ['BTCUSDT@trade'] })).toThrow(RangeError);
    const { client: c } = client({ wsBaseUrl: 'ws://127.0.0.1:1', streams: ['btcusdt@trade'] });
    expect(() => c.addStreams(['ethusdt@trade', 'btcusdt@depth'])).toThrow(RangeError);
    expect(c.streams()).toEqual(['btcusdt@trade']);
    expect(() => client({ wsBaseUrl: 'ws://x', streams: [], maxStreamsPerConnection: 1025 })).toThrow(
      RangeError,
    );
  });
});

describe('BinanceStreamClient: sharding and live subscriptions', () => {
  it('shards streams across connections below maxStreamsPerConnection', async () => {
    const f = await fake();
    const streams = ['a1usdt@trade', 'a2usdt@trade', 'a3usdt@trade', 'a4usdt@trade', 'a5usdt@trade'];
    const { client: c, events } = client({ wsBaseUrl: f.url, streams, maxStreamsPerConnection: 2 });
    c.start();
    await waitFor(() => events.connected.length === 3, 3000, 'three connections');
    expect(f.connections.map((x) => x.query).sort()).toEqual([
      'a1usdt@trade/a2usdt@trade',
      'a3usdt@trade/a4usdt@trade',
      'a5usdt@trade',
    ]);

    expect(c.addStreams(['a6usdt@trade', 'a7usdt@trade', 'a1usdt@trade'])).toEqual([
      'a6usdt@trade',
      'a7usdt@trade',
    ]);
    await waitFor(() => events.connected.length === 4, 3000, 'fourth connection');
    const third = f.connections.find((x) => x.query === 'a5usdt@trade');
    await waitFor(() => third?.streams.has('a6usdt@trade') === true, 3000, 'live SUBSCRIBE');
    expect(third?.requests.map((r) => [r.method, r.params])).toEqual([['SUBSCRIBE', ['a6usdt@trade']]]);
    expect(f.connections[3]?.query).toBe('a7usdt@trade');
    expect(f.connections.every((x) => x.streams.size <= 2)).toBe(true);
  });

  it('paces live requests under maxMessagesPerSecond and matches their replies', async () => {
    const f = await fake();
    const { client: c, events } = client({
      wsBaseUrl: f.url,
      streams: ['btcusdt@trade'],
      maxMessagesPerSecond: 5,
    });
    c.start();
    await waitFor(() => events.connected.length === 1);
    // Alternating changes cannot be merged: each is its own request.
    for (let i = 0; i < 4; i++) {
      c.addStreams(['ethusdt@trade']);
      c.removeStreams(['ethusdt@trade']);
    }
    const conn = f.connections[0];
    await waitFor(() => (conn?.requests.length ?? 0) === 8, 4000, 'eight requests');
    const times = conn?.requests.map((r) => r.atMs) ?? [];
    for (let i = 1; i < times.length; i++) {
      expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(185);
    }
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(5);
    expect(conn?.requests.map((r) => r.method)).toEqual([
      'SUBSCRIBE',
      'UNSUBSCRIBE',
      'SUBSCRIBE',
      'UNSUBSCRIBE',
      'SUBSCRIBE',
      'UNSUBSCRIBE',
      'SUBSCRIBE',
      'UNSUBSCRIBE',
    ]);
    // A data frame sent after the last reply: once it has arrived, so have every reply.
    f.publish('btcusdt@trade', tradeEvent('btcusdt', 1));
    await waitFor(() => events.trades.length === 1, 2000, 'the frame after the replies');
    expect(c.stats().methodErrors).toBe(0);
    expect(events.malformed).toEqual([]); // every reply matched a request id
    expect([...(conn?.streams ?? [])]).toEqual(['btcusdt@trade']);
  });

  it('merges queued changes of the same kind into one request', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    c.start();
    await waitFor(() => events.connected.length === 1);
    const added = Array.from({ length: 10 }, (_, i) => `s${i}usdt@trade`);
    for (const s of added) c.addStreams([s]);
    const conn = f.connections[0];
    await waitFor(() => added.every((s) => conn?.streams.has(s)), 3000, 'all subscribed');
    expect(conn?.requests.length).toBe(2);
  });

  it('counts an error reply to SUBSCRIBE and keeps the connection', async () => {
    const f = await fake({ rejectStreams: new Set(['badusdt@trade']) });
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    c.start();
    await waitFor(() => events.connected.length === 1);
    c.addStreams(['badusdt@trade']);
    await waitFor(() => c.stats().methodErrors === 1, 2000, 'method error');
    expect(events.disconnected).toEqual([]);
  });

  it('unsubscribes removed streams, ignores their late frames, and closes an emptied connection', async () => {
    const f = await fake();
    const { client: c, events } = client({
      wsBaseUrl: f.url,
      streams: ['btcusdt@trade', 'ethusdt@trade', 'bnbbtc@trade'],
      maxStreamsPerConnection: 2,
    });
    c.start();
    await waitFor(() => events.connected.length === 2);
    const first = f.connections.find((x) => x.query === 'btcusdt@trade/ethusdt@trade');
    expect(c.removeStreams(['ethusdt@trade', 'bnbbtc@trade', 'nope@trade'])).toEqual([
      'ethusdt@trade',
      'bnbbtc@trade',
    ]);
    first?.ws.send(JSON.stringify({ stream: 'ethusdt@trade', data: tradeEvent('ethusdt', 1) }));
    await waitFor(() => first?.streams.has('ethusdt@trade') === false, 2000, 'UNSUBSCRIBE');
    await waitFor(() => events.disconnected.length === 1, 2000, 'emptied connection closed');
    expect(events.disconnected[0]).toMatchObject({
      planned: true,
      reason: 'streams removed',
      streams: ['bnbbtc@trade'],
    });
    expect(events.trades).toEqual([]);
    expect(c.streams()).toEqual(['btcusdt@trade']);
  });
});

describe('BinanceStreamClient: reconnecting', () => {
  it.each([
    [
      'terminated without a close frame',
      (ws: { terminate(): void; close(code: number): void }) => ws.terminate(),
    ],
    ['closed with a close frame', (ws: { terminate(): void; close(code: number): void }) => ws.close(1001)],
  ])(
    'reconnects with the same streams, live additions included, after the server %s',
    async (_name, drop) => {
      const f = await fake();
      const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@kline_1m'] });
      c.start();
      await waitFor(() => events.connected.length === 1);
      c.addStreams(['ethusdt@trade']);
      await waitFor(() => f.connections[0]?.streams.has('ethusdt@trade') === true);
      const first = f.connections[0];
      if (first) drop(first.ws);
      await waitFor(() => events.connected.length === 2, 3000, 'reconnected');
      expect(events.disconnected[0]).toMatchObject({ planned: false, connectionId: events.connected[0] });
      expect(f.connections[1]?.query).toBe('btcusdt@kline_1m/ethusdt@trade');
      expect(c.stats().reconnects).toBe(1);
      f.publish('ethusdt@trade', tradeEvent('ethusdt', 9));
      await waitFor(() => events.trades.length === 1);
      expect(events.trades[0]?.connectionId).toBe(events.connected[1]);
    },
  );

  it('reconnects when a connection goes silent past staleAfterMs', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'], staleAfterMs: 250 });
    c.start();
    await waitFor(() => events.connected.length === 1);
    const started = Date.now();
    await waitFor(() => events.connected.length === 2, 3000, 'reconnect after silence');
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(events.disconnected[0]).toMatchObject({ planned: false, reason: 'stale: no data' });
    expect(c.stats().staleDisconnects).toBe(1);
    await waitFor(() => f.connections[0]?.closed === true, 2000, 'old socket closed');
  });

  it('does not reconnect a connection that keeps delivering data', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'], staleAfterMs: 150 });
    tradeGenerator(f, 'btcusdt@trade', 20);
    c.start();
    // 35 trades 20 ms apart span more than four stale periods of 150 ms.
    await waitFor(() => events.trades.length >= 35, 5000, 'trades over several stale periods');
    expect(events.connected.length).toBe(1);
    expect(events.disconnected).toEqual([]);
    expect(events.trades.length).toBeGreaterThan(10);
  });

  it.each([
    ['an unresolvable host', () => 'ws://binance-test-host.invalid:9443'],
    ['a refused port', refusedUrl],
    ['a TLS handshake to a plain server', async () => (await fake()).url.replace('ws:', 'wss:')],
  ])('keeps retrying %s without throwing, and stops cleanly', async (_name, url) => {
    const { client: c, events } = client({ wsBaseUrl: await url(), streams: ['btcusdt@trade'] });
    c.start();
    await waitFor(() => c.stats().connectFailures >= 3, 5000, 'three failed attempts');
    expect(events.connected).toEqual([]);
    expect(c.stats().reconnects).toBeGreaterThanOrEqual(3);
    await c.stop();
  });
});

describe('BinanceStreamClient: pacing connection attempts', () => {
  it('asks the pacer before every attempt, first connections, reconnects and switch-overs, and waits its slot', async () => {
    const f = await fake();
    const waits = [0, 0, 80, 0, 0];
    const asked: number[] = [];
    const pacer = {
      reserve: () => {
        asked.push(Date.now());
        return waits[asked.length - 1] ?? 0;
      },
    };
    const { client: c, events } = client({
      wsBaseUrl: f.url,
      streams: ['btcusdt@trade', 'ethusdt@trade', 'bnbbtc@trade'],
      maxStreamsPerConnection: 1,
      connectPacer: pacer,
    });
    const started = Date.now();
    c.start();
    await waitFor(() => events.connected.length === 3, 3000, 'three connections');
    expect(asked).toHaveLength(3);
    // The third waited for its slot.
    expect(f.connections.length).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
    f.connections[0]?.ws.terminate();
    await waitFor(() => events.connected.length === 4, 3000, 'reconnected');
    expect(asked).toHaveLength(4);
    f.connections[1]?.ws.send(JSON.stringify({ e: 'serverShutdown', E: 1 }));
    await waitFor(() => events.connected.length === 5, 3000, 'switched over');
    expect(asked).toHaveLength(5);
  });
});

describe('BinanceStreamClient: planned switch-over (make-before-break)', () => {
  it.each([
    ['combined', (E: number) => ({ stream: 'btcusdt@trade', data: { e: 'serverShutdown', E } })],
    ['raw', (E: number) => ({ e: 'serverShutdown', E })],
    ['WebSocket API', (E: number) => ({ event: { e: 'serverShutdown', E } })],
  ])('on a %s serverShutdown opens a replacement first and loses no event', async (_name, shutdown) => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    c.start();
    await waitFor(() => events.connected.length === 1);
    // Trade ids are a sequence: every id from 1 on must come through at least once.
    const gen = tradeGenerator(f, 'btcusdt@trade', 3);
    await waitFor(() => events.trades.length > 20, 3000, 'first trades');
    f.connections[0]?.ws.send(JSON.stringify(shutdown(Date.now())));
    await waitFor(() => events.disconnected.length === 1, 3000, 'old connection retired');
    await waitFor(
      () => events.trades.length > 0 && (events.trades.at(-1)?.trade.tradeId ?? 0) > gen.last - 3,
    );
    gen.stop();
    const last = gen.last;
    await waitFor(() => new Set(events.trades.map((t) => t.trade.tradeId)).size >= last, 2000, 'all trades');

    expect(events.disconnected[0]).toMatchObject({
      connectionId: events.connected[0],
      planned: true,
      reason: 'server shutdown',
    });
    expect(events.connected.length).toBe(2);
    expect(f.connections.length).toBe(2);
    expect(f.connections[0]?.closed).toBe(true);
    expect(c.stats().switchovers).toBe(1);
    expect(c.stats().reconnects).toBe(0);
    assertContiguous(
      events.trades.map((t) => t.trade.tradeId),
      last,
    );
  });

  it('rolls over before maxConnectionAgeMs without losing events', async () => {
    const f = await fake();
    const { client: c, events } = client({
      wsBaseUrl: f.url,
      streams: ['btcusdt@trade'],
      maxConnectionAgeMs: 300,
    });
    c.start();
    await waitFor(() => events.connected.length === 1);
    const gen = tradeGenerator(f, 'btcusdt@trade', 3);
    await waitFor(() => c.stats().switchovers >= 2, 4000, 'two rollovers');
    gen.stop();
    const last = gen.last;
    await waitFor(() => new Set(events.trades.map((t) => t.trade.tradeId)).size >= last, 2000, 'all trades');
    assertContiguous(
      events.trades.map((t) => t.trade.tradeId),
      last,
    );
    expect(events.disconnected.every((d) => d.planned && d.reason === 'maximum connection age')).toBe(true);
  });

  it('rolls each shard over at its own age, so connections opened together do not roll over together', async () => {
    const f = await fake();
    const { client: c, events } = client({
      wsBaseUrl: f.url,
      streams: ['btcusdt@trade', 'ethusdt@trade'],
      maxStreamsPerConnection: 1,
      connectionAgeMsOf: (shard) => (shard === 0 ? 200 : 600_000),
    });
    c.start();
    await waitFor(() => events.connected.length === 2);
    tradeGenerator(f, 'btcusdt@trade', 3);
    tradeGenerator(f, 'ethusdt@trade', 3);
    const rolled = () => events.disconnected.filter((d) => d.reason === 'maximum connection age');
    // A rollover ends when the replaced connection has closed, after the switch itself.
    await waitFor(() => rolled().length >= 2, 4000, 'two rollovers of the first shard');
    expect(rolled().every((d) => d.streams.join() === 'btcusdt@trade')).toBe(true);
  });

  it('closes the old connection after switchoverTimeoutMs when the replacement stays silent', async () => {
    const f = await fake();
    const { client: c, events } = client({
      wsBaseUrl: f.url,
      streams: ['btcusdt@trade'],
      switchoverTimeoutMs: 200,
    });
    c.start();
    await waitFor(() => events.connected.length === 1);
    f.connections[0]?.ws.send(JSON.stringify({ e: 'serverShutdown', E: 1 }));
    await waitFor(() => events.connected.length === 2, 2000, 'replacement open');
    const opened = Date.now();
    await waitFor(() => events.disconnected.length === 1, 2000, 'old closed');
    expect(Date.now() - opened).toBeGreaterThanOrEqual(150);
    expect(events.disconnected[0]).toMatchObject({ connectionId: events.connected[0], planned: true });
  });

  it('keeps the old connection while the replacement cannot connect', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    c.start();
    await waitFor(() => events.connected.length === 1);
    // Refuse new WebSocket handshakes from now on: the replacement fails, the old stays.
    const failing = f.connections.length;
    f.rejectNewConnections = true;
    f.connections[0]?.ws.send(JSON.stringify({ e: 'serverShutdown', E: 1 }));
    await waitFor(() => c.stats().connectFailures >= 2, 3000, 'replacement attempts failing');
    expect(f.connections.length).toBe(failing);
    expect(events.disconnected).toEqual([]);
    f.rejectNewConnections = false;
    tradeGenerator(f, 'btcusdt@trade', 10);
    await waitFor(() => events.disconnected.length === 1, 3000, 'switch completes once possible');
    expect(events.disconnected[0]?.planned).toBe(true);
  });
});

describe('BinanceStreamClient: stop', () => {
  it('leaves no timers or sockets behind', async () => {
    const f = await fake();
    const resources = () => {
      const info = process.getActiveResourcesInfo();
      return {
        timeouts: info.filter((r) => r === 'Timeout').length,
        sockets: info.filter((r) => r === 'TCPSocketWrap').length,
      };
    };
    const before = resources();
    const { client: c, events } = client({
      wsBaseUrl: f.url,
      streams: ['btcusdt@trade', 'ethusdt@trade', 'bnbbtc@trade'],
      maxStreamsPerConnection: 1,
    });
    c.start();
    await waitFor(() => events.connected.length === 3);
    c.addStreams(['xrpusdt@trade']);
    const during = resources();
    expect(during.sockets).toBeGreaterThan(before.sockets);
    await c.stop();
    await waitFor(() => f.open().length === 0, 2000, 'server sees every socket closed');
    await waitFor(
      () => {
        const after = resources();
        return after.timeouts <= before.timeouts && after.sockets <= before.sockets;
      },
      2000,
      'resources released',
    );
    expect(c.stats().openConnections).toBe(0);
    expect(events.disconnected.every((d) => d.planned && d.reason === 'stopped')).toBe(true);
  });

  it('stops when the start signal is aborted', async () => {
    const f = await fake();
    const { client: c, events } = client({ wsBaseUrl: f.url, streams: ['btcusdt@trade'] });
    const controller = new AbortController();
    c.start(controller.signal);
    await waitFor(() => events.connected.length === 1);
    controller.abort();
    await waitFor(() => events.disconnected.length === 1 && f.open().length === 0, 2000, 'stopped');
    expect(events.disconnected[0]).toMatchObject({ planned: true, reason: 'stopped' });
    expect(() => c.start()).toThrow(/cannot be restarted/);
  });

  it('stops promptly while a handshake is still pending', async () => {
    const sockets: Socket[] = [];
    const silent: TcpServer = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as AddressInfo;
    // A handshake timeout far beyond the test's: stop() returning at all shows it did not wait.
    const { client: c } = client({
      wsBaseUrl: `ws://127.0.0.1:${port}`,
      streams: ['btcusdt@trade'],
      handshakeTimeoutMs: 600_000,
    });
    c.start();
    await waitFor(() => sockets.length === 1, 2000, 'TCP accepted');
    await c.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });
});

async function refusedUrl(): Promise<string> {
  const probe = createTcpServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return `ws://127.0.0.1:${port}`;
}
