import {
  binanceAggTradeEvent,
  binanceCombinedFrame,
  binanceKlineEvent,
  binanceMethodError,
  binanceMethodResult,
  binanceServerShutdownEvent,
  binanceTradeEvent,
} from '@visualgo/contracts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TestClient } from './test-client.js';
import { TEST_START_MS, testSims } from './test-sim.js';

const START = TEST_START_MS;
/** On the wire Binance nests the error object under `error`, next to the request id. */
const methodErrorReply = z.object({
  error: binanceMethodError.omit({ id: true }),
  id: binanceMethodResult.shape.id,
});

const KLINE_EVENT_KEYS = ['e', 'E', 's', 'k'];
const KLINE_KEYS = ['t', 'T', 's', 'i', 'f', 'L', 'o', 'c', 'h', 'l', 'v', 'n', 'x', 'q', 'V', 'Q', 'B'];
const TRADE_KEYS = ['e', 'E', 's', 't', 'p', 'q', 'T', 'm', 'M'];
const AGG_TRADE_KEYS = ['e', 'E', 's', 'a', 'p', 'q', 'f', 'l', 'T', 'm', 'M'];

const { start, connect } = testSims('ws-test');

describe('raw streams', () => {
  it('sends kline updates every 2 s of market time and a final x:true update at the close', async () => {
    const s = await start();
    const client = await connect('/ws/btcusdt@kline_1m');
    s.advance(60_000);
    await client.waitForFrames(30);
    const events = client.json().map((m) => binanceKlineEvent.parse(m));
    expect(events.map((e) => e.E)).toEqual(Array.from({ length: 30 }, (_, i) => START + 2_000 * (i + 1)));
    expect(events.every((e) => e.k.t === START && e.k.T === START + 59_999 && e.k.i === '1m')).toBe(true);
    expect(events.map((e) => e.k.x)).toEqual([...Array<boolean>(29).fill(false), true]);
    // Updates only grow: trade counts never fall, the first trade id never changes.
    for (let i = 1; i < events.length; i++) {
      expect(events[i]?.k.n).toBeGreaterThanOrEqual(events[i - 1]?.k.n ?? 0);
      expect(events[i]?.k.f).toBe(events[0]?.k.f);
    }
    const last = events.at(-1);
    const [truth] = s.truth.candles('btcusdt@kline_1m', { startTimeMs: START });
    expect(truth).toMatchObject({
      openTimeMs: START,
      closed: true,
      trades: last?.k.n,
      close: Number(last?.k.c),
    });
  });

  it('sends frames with exactly Binance’s fields in Binance’s order', async () => {
    const s = await start();
    const kline = await connect('/ws/btcusdt@kline_1m');
    const trade = await connect('/ws/btcusdt@trade');
    const agg = await connect('/ws/btcusdt@aggTrade');
    s.advance(4_000);
    await kline.waitForFrames(2);
    await trade.waitForFrames(1);
    await agg.waitForFrames(1);
    const k = z.record(z.string(), z.unknown()).parse(JSON.parse(kline.frames[0] ?? ''));
    expect(Object.keys(k)).toEqual(KLINE_EVENT_KEYS);
    expect(Object.keys(z.record(z.string(), z.unknown()).parse(k.k))).toEqual(KLINE_KEYS);
    expect(Object.keys(JSON.parse(trade.frames[0] ?? ''))).toEqual(TRADE_KEYS);
    expect(Object.keys(JSON.parse(agg.frames[0] ?? ''))).toEqual(AGG_TRADE_KEYS);
    expect(kline.frames[0]).toMatch(/"o":"\d+\.\d{8}"/);
  });

  it('sends every trade once, in order, matching the ground truth', async () => {
    const s = await start();
    const client = await connect('/ws/btcusdt@trade');
    s.advance(20_000);
    const truth = s.truth.trades('BTCUSDT', { startTimeMs: START, endTimeMs: START + 20_000 });
    expect(truth.length).toBeGreaterThan(10);
    await client.waitForFrames(truth.length);
    const events = client.json().map((m) => binanceTradeEvent.parse(m));
    expect(events.map((e) => e.t)).toEqual(truth.map((t) => t.tradeId));
    expect(events.map((e) => Number(e.p))).toEqual(truth.map((t) => t.price));
    expect(events.every((e) => e.s === 'BTCUSDT' && e.E >= e.T)).toBe(true);
  });

  it('aggregates the fills of a taker order into one aggTrade', async () => {
    const s = await start();
    const aggs = await connect('/ws/ethusdt@aggTrade');
    const trades = await connect('/ws/ethusdt@trade');
    s.advance(60_000);
    const truth = s.truth.trades('ETHUSDT', { startTimeMs: START, endTimeMs: START + 60_000 });
    await trades.waitForFrames(truth.length);
    await aggs.waitFor(() => {
      const last = aggs.json().at(-1);
      return binanceAggTradeEvent.safeParse(last).data?.l === truth.at(-1)?.tradeId;
    });
    const events = aggs.json().map((m) => binanceAggTradeEvent.parse(m));
    expect(events.length).toBeLessThan(truth.length);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]?.a).toBe((events[i - 1]?.a ?? 0) + 1);
      expect(events[i]?.f).toBe((events[i - 1]?.l ?? 0) + 1);
    }
    const aggVolume = events.reduce((sum, e) => sum + Number(e.q), 0);
    const tradeVolume = truth.reduce((sum, t) => sum + t.quantity, 0);
    expect(aggVolume).toBeCloseTo(tradeVolume, 6);
  });
});

describe('combined streams', () => {
  it('wraps every payload as {stream, data}', async () => {
    const s = await start();
    const client = await connect('/stream?streams=btcusdt@trade/ethusdt@kline_5m');
    s.advance(10_000);
    await client.waitFor(
      () => client.json().filter((m) => JSON.stringify(m).includes('kline_5m')).length >= 5,
    );
    const frames = client.json().map((m) => binanceCombinedFrame.parse(m));
    expect(new Set(frames.map((f) => f.stream))).toEqual(new Set(['btcusdt@trade', 'ethusdt@kline_5m']));
    for (const f of frames) {
      if (f.stream === 'btcusdt@trade') binanceTradeEvent.parse(f.data);
      else expect(binanceKlineEvent.parse(f.data).k.i).toBe('5m');
    }
    expect(client.frames[0]).toMatch(/^\{"stream":"[^"]+","data":\{"e":/);
  });
});

describe('live subscription methods', () => {
  it('subscribes, lists, switches to combined payloads and unsubscribes', async () => {
    const s = await start();
    const client = await connect('/ws');
    client.send({ method: 'SUBSCRIBE', params: ['btcusdt@kline_1m', 'ethusdt@trade'], id: 1 });
    await client.reply(1);
    expect(client.frames[0]).toBe('{"result":null,"id":1}');
    client.send({ method: 'LIST_SUBSCRIPTIONS', id: 'list-2' });
    expect(binanceMethodResult.parse(await client.reply('list-2')).result).toEqual([
      'btcusdt@kline_1m',
      'ethusdt@trade',
    ]);
    client.send({ method: 'GET_PROPERTY', params: ['combined'], id: 3 });
    expect(await client.reply(3)).toEqual({ result: false, id: 3 });
    s.advance(2_000);
    await client.waitFor(() => client.json().some((m) => binanceKlineEvent.safeParse(m).success));

    client.send({ method: 'SET_PROPERTY', params: ['combined', true], id: 4 });
    await client.reply(4);
    client.send({ method: 'UNSUBSCRIBE', params: ['ethusdt@trade'], id: 5 });
    expect(await client.reply(5)).toEqual({ result: null, id: 5 });
    const before = client.frames.length;
    s.advance(2_000);
    await client.waitForFrames(before + 1);
    const wrapped = client
      .json()
      .slice(before)
      .map((m) => binanceCombinedFrame.parse(m));
    expect(wrapped.map((f) => f.stream)).toEqual(['btcusdt@kline_1m']);
  });

  it('answers bad requests with Binance’s error objects and keeps the connection usable', async () => {
    await start({ maxMessagesPerSecond: 1_000 });
    const client = await connect('/ws');
    const cases: { send: string; code: number; msg: RegExp; id: number | null }[] = [
      {
        send: '{"method": "SUBSCRIBE", ',
        code: 3,
        msg: /^Invalid JSON: expected value at line 1 column \d+$/,
        id: null,
      },
      {
        send: '{"method":"SUBSCRIB","params":[],"id":1}',
        code: 2,
        msg: /^Invalid request: unknown variant `SUBSCRIB`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 20$/,
        id: null,
      },
      {
        send: '{"params":[],"id":2}',
        code: 2,
        msg: /^Invalid request: missing field `method` at line 1 column 20$/,
        id: null,
      },
      {
        send: '{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1.5}',
        code: 2,
        msg: /^Invalid request: request ID must be an unsigned integer$/,
        id: null,
      },
      {
        send: '{"method":"SUBSCRIBE","params":["BTCUSDT"],"id":7}',
        code: 2,
        msg: /^Invalid request: invalid stream$/,
        id: 7,
      },
      {
        send: '{"method":"SET_PROPERTY","params":["colour",true],"id":8}',
        code: 0,
        msg: /^Unknown property$/,
        id: 8,
      },
      {
        send: '{"method":"SET_PROPERTY","params":["combined","yes"],"id":9}',
        code: 1,
        msg: /^Invalid value type: expected Boolean$/,
        id: 9,
      },
      {
        send: '{"method":"GET_PROPERTY","params":[5],"id":10}',
        code: 2,
        msg: /^Invalid request: property name must be a string$/,
        id: 10,
      },
      {
        send: '{"method":"GET_PROPERTY","params":["combined","x"],"id":11}',
        code: 2,
        msg: /^Invalid request: too many parameters$/,
        id: 11,
      },
    ];
    for (const [i, c] of cases.entries()) {
      client.send(c.send);
      await client.waitForFrames(i + 1);
      const reply = methodErrorReply.parse(JSON.parse(client.frames[i] ?? ''));
      expect(reply.error.code, c.send).toBe(c.code);
      expect(reply.error.msg, c.send).toMatch(c.msg);
      expect(reply.id, c.send).toBe(c.id);
    }
    client.send({ method: 'SUBSCRIBE', params: ['btcusdt@trade'], id: 99 });
    expect(await client.reply(99)).toEqual({ result: null, id: 99 });
    expect(client.closed).toBeNull();
  });
});

describe('connection limits', () => {
  it('pings on schedule and keeps a peer that answers', async () => {
    // Answering 20 pings a second would trip the 5 messages/s limit: lift it for this test.
    await start({ pingIntervalMs: 50, pongTimeoutMs: 200, maxMessagesPerSecond: 1_000 });
    const client = await connect('/ws/btcusdt@trade');
    await client.waitFor(() => client.pings.length >= 10, 3_000, '10 pings');
    await new Promise((r) => setTimeout(r, 250));
    expect(client.closed).toBeNull();
  });

  it('answers a client ping with a pong carrying its payload', async () => {
    await start();
    const client = await connect('/ws');
    const pong = new Promise<string>((resolve) => client.ws.once('pong', (d) => resolve(d.toString('utf8'))));
    client.ws.ping('hello');
    expect(await pong).toBe('hello');
  });

  it('drops a peer that does not answer pings, even if it sends unsolicited pongs', async () => {
    await start({ pingIntervalMs: 50, pongTimeoutMs: 200 });
    const silent = await connect('/ws/btcusdt@trade', { autoPong: false });
    const unsolicited = await connect('/ws/btcusdt@trade', { autoPong: false });
    const timer = setInterval(() => unsolicited.ws.pong(''), 300);
    try {
      const opened = Date.now();
      expect((await silent.waitForClose(2_000)).code).toBe(1008);
      expect(Date.now() - opened).toBeGreaterThanOrEqual(200);
      expect((await unsolicited.waitForClose(2_000)).code).toBe(1008);
    } finally {
      clearInterval(timer);
    }
  });

  it('closes a connection that sends more than 5 messages in a second', async () => {
    await start();
    const polite = await connect('/ws');
    for (let i = 0; i < 5; i++) polite.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
    await polite.waitForFrames(5);
    const flooding = await connect('/ws');
    for (let i = 0; i < 6; i++) flooding.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
    expect((await flooding.waitForClose()).code).toBe(1008);
    expect(polite.closed).toBeNull();
  });

  it('allows 1024 streams on a connection and refuses more', async () => {
    const s = await start();
    const names = Array.from({ length: 1025 }, (_, i) => `s${i}@trade`);
    await expect(TestClient.open(`${s.wsUrl}/stream?streams=${names.join('/')}`)).rejects.toThrow('HTTP 400');
    const client = await connect(`/stream?streams=${names.slice(0, 1024).join('/')}`);
    expect(s.connections()[0]?.streams).toHaveLength(1024);
    client.send({ method: 'SUBSCRIBE', params: ['btcusdt@trade'], id: 1 });
    const reply = methodErrorReply.parse(await client.reply(1));
    expect(reply.error).toEqual({ code: 2, msg: 'Invalid request: too many streams' });
  });

  it('closes connections at the lifetime cap', async () => {
    await start({ maxConnectionMs: 150 });
    const client = await connect('/ws/btcusdt@trade');
    const opened = Date.now();
    expect(await client.waitForClose(2_000)).toEqual({ code: 1000, reason: 'Connection lifetime exceeded' });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(140);
  });

  it('sends serverShutdown (raw and combined) and then closes', async () => {
    const s = await start();
    const raw = await connect('/ws/btcusdt@kline_1m');
    const combined = await connect('/stream?streams=btcusdt@kline_1m');
    s.advance(1_000);
    expect(s.serverShutdown({ closeAfterMs: 50 })).toBe(2);
    await raw.waitForFrames(1);
    await combined.waitForFrames(1);
    expect(binanceServerShutdownEvent.parse(JSON.parse(raw.frames[0] ?? ''))).toEqual({
      e: 'serverShutdown',
      E: START + 1_000,
    });
    const wrapped = binanceCombinedFrame.parse(JSON.parse(combined.frames[0] ?? ''));
    expect(wrapped.stream).toBe('!serverShutdown');
    binanceServerShutdownEvent.parse(wrapped.data);
    expect((await raw.waitForClose()).code).toBe(1001);
    expect((await combined.waitForClose()).code).toBe(1001);
  });

  it('closes every connection with 1001 (going away) when the exchange stops, stalled ones too', async () => {
    const s = await start();
    const raw = await connect('/ws/btcusdt@kline_1m');
    const combined = await connect('/stream?streams=btcusdt@trade');
    const disconnected: string[] = [];
    s.on('disconnected', (_info, reason) => disconnected.push(reason));
    s.stallConnections({ stream: 'btcusdt@trade' });
    await s.close();
    expect(await raw.waitForClose()).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await combined.waitForClose()).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(disconnected).toEqual(['server-closed', 'server-closed']);
  });

  it('cuts a peer that does not answer the close within the bound', async () => {
    const s = await start();
    const silent = await connect('/ws/btcusdt@kline_1m');
    // The client's socket stops reading, so the close handshake cannot complete.
    const socket = (silent.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const reasons: string[] = [];
    s.on('disconnected', (_info, reason) => reasons.push(reason));
    await s.close(); // resolves: the silent peer is cut after the 1 s bound
    expect(reasons).toEqual(['server-closed']);
    socket.resume();
    await silent.waitForClose();
  });

  it('rejects unknown paths and malformed stream names at the upgrade', async () => {
    const s = await start();
    await expect(TestClient.open(`${s.wsUrl}/nope`)).rejects.toThrow('HTTP 404');
    await expect(TestClient.open(`${s.wsUrl}/ws/BTCUSDT`)).rejects.toThrow('HTTP 400');
  });
});
