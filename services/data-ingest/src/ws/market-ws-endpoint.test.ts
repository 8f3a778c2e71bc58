import type { CandleEvent, TradeEvent } from '@visualgo/bus';
import { binanceCombinedFrame, binanceKlineEvent, binanceMethodError } from '@visualgo/contracts';
import { createMetrics } from '@visualgo/platform';
import { testCandle, testTrade } from '@visualgo/testing';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { type IngestHttpEdge, startIngestHttpEdge } from '../http/ingest-http-edge.js';
import { FakeIngest } from '../testing/fake-ingest.js';
import { staticMetadata } from '../testing/static-metadata.js';
import { binanceCombinedText, binanceEventText } from './binance-frames.js';
import type { MarketWsOptions } from './market-ws-endpoint.js';
import { connectClient, refusedUpgrade, type TestClient, terminateClients, until } from './ws-test-client.js';

const BTC = 'btcusdt@kline_1m';
const ETH = 'ethusdt@kline_1m';
const TRADE = 'btcusdt@trade';
const T0 = 1_700_000_040_000;

/** Binance's error reply on the wire: `{"error":{"code","msg"},"id"}`. */
const errorFrame = z.object({ error: binanceMethodError, id: z.union([z.number(), z.string(), z.null()]) });

let edge: IngestHttpEdge | undefined;
afterEach(async () => {
  terminateClients();
  await edge?.close();
  edge = undefined;
});

async function start(
  ws: MarketWsOptions = {},
  logger = pino({ level: 'silent' }),
): Promise<{ hub: FakeIngest; base: string }> {
  const hub = new FakeIngest([BTC, ETH, TRADE]);
  edge = await startIngestHttpEdge({
    bus: hub.bus,
    view: hub,
    metadata: staticMetadata(['BTCUSDT', 'ETHUSDT']),
    logger,
    metrics: createMetrics('data-ingest', false),
    host: '127.0.0.1',
    port: 0,
    ws: { heartbeatIntervalMs: 0, ...ws },
  });
  return { hub, base: `ws://127.0.0.1:${edge.port}` };
}

type Event = CandleEvent | TradeEvent;
/** What `/ws` and `/ws/<stream>` send for an event: Binance's raw event JSON. */
const raw = (e: Event | undefined) => (e ? binanceEventText.of(e) : undefined);
/** What `/stream` sends: the combined `{"stream","data"}` frame. */
const combined = (e: Event | undefined) => (e ? binanceCombinedText.of(e) : undefined);

function publishAll(hub: FakeIngest, i: number): Event[] {
  return [
    hub.publishCandle(BTC, testCandle({ openTimeMs: T0 + i * 60_000, closed: false })),
    hub.publishCandle(ETH, testCandle({ openTimeMs: T0 + i * 60_000, symbol: 'ETHUSDT', close: 1983.55 })),
    hub.publishTrade(TRADE, testTrade({ tradeId: i })),
  ];
}

/** Publishes one more BTC update and waits until `client` has received `count` messages in all. */
async function expectCount(client: TestClient, count: number): Promise<void> {
  await until(() => client.messages.length >= count);
  expect(client.messages).toHaveLength(count);
}

describe('WebSocket endpoints', () => {
  it('/ws sends every event of every stream as the raw Binance payload', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws`);
    const events = [...publishAll(hub, 0), ...publishAll(hub, 1)];
    await expectCount(client, 6);
    expect(client.messages).toEqual(events.map(raw));
    expect(binanceKlineEvent.safeParse(JSON.parse(client.messages[0] ?? '')).success).toBe(true);
  });

  it('/ws/<stream> sends only that stream, raw', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws/${ETH}`);
    const events = [...publishAll(hub, 0), ...publishAll(hub, 1)];
    await expectCount(client, 2);
    expect(client.messages).toEqual(events.filter((e) => e.stream === ETH).map(raw));
  });

  it('/ws/<a>/<b> accepts several raw streams and an upper-case symbol', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws/BTCUSDT@trade/${ETH}`);
    const events = publishAll(hub, 0);
    await expectCount(client, 2);
    expect(client.messages).toEqual([raw(events[1]), raw(events[2])]);
  });

  it('/stream?streams=a/b wraps events as {"stream","data"}', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/stream?streams=${BTC}/${TRADE}`);
    const events = publishAll(hub, 0);
    await expectCount(client, 2);
    expect(client.messages).toEqual([combined(events[0]), combined(events[2])]);
    const frame = binanceCombinedFrame.parse(JSON.parse(client.messages[0] ?? ''));
    expect(frame.stream).toBe(BTC);
    expect(binanceKlineEvent.parse(frame.data).k.x).toBe(false);
  });

  it('answers SUBSCRIBE, UNSUBSCRIBE and LIST_SUBSCRIPTIONS as Binance does, and routes accordingly', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws/${BTC}`);
    expect(await client.request({ method: 'SUBSCRIBE', params: [ETH], id: 1 })).toEqual({
      result: null,
      id: 1,
    });
    expect(await client.request({ method: 'LIST_SUBSCRIPTIONS', id: 'a2' })).toEqual({
      result: [BTC, ETH],
      id: 'a2',
    });
    let events = publishAll(hub, 0);
    await expectCount(client, 4);
    expect(client.messages.slice(2)).toEqual([raw(events[0]), raw(events[1])]);
    expect(await client.request({ method: 'UNSUBSCRIBE', params: [BTC], id: 3 })).toEqual({
      result: null,
      id: 3,
    });
    expect(await client.request({ method: 'LIST_SUBSCRIPTIONS', id: null })).toEqual({
      result: [ETH],
      id: null,
    });
    events = publishAll(hub, 1);
    await expectCount(client, 7);
    expect(client.messages[6]).toBe(raw(events[1]));
  });

  it('switches a raw connection to the combined wrapper with SET_PROPERTY and reports it with GET_PROPERTY', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws/${BTC}`);
    expect(await client.request({ method: 'GET_PROPERTY', params: ['combined'], id: 1 })).toEqual({
      result: false,
      id: 1,
    });
    expect(await client.request({ method: 'SET_PROPERTY', params: ['combined', true], id: 2 })).toEqual({
      result: null,
      id: 2,
    });
    expect(await client.request({ method: 'GET_PROPERTY', params: ['combined'], id: 3 })).toEqual({
      result: true,
      id: 3,
    });
    const [btc] = publishAll(hub, 0);
    await expectCount(client, 4);
    expect(client.messages[3]).toBe(combined(btc));
  });

  it('bare /ws lists every stream, and after a SUBSCRIBE sends only what was asked for', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws`);
    expect(await client.request({ method: 'LIST_SUBSCRIPTIONS', id: 1 })).toEqual({
      result: [BTC, ETH, TRADE],
      id: 1,
    });
    expect(await client.request({ method: 'SUBSCRIBE', params: [TRADE], id: 2 })).toEqual({
      result: null,
      id: 2,
    });
    const events = publishAll(hub, 0);
    await expectCount(client, 3);
    expect(client.messages[2]).toBe(raw(events[2]));
  });

  it('bare /ws turns an UNSUBSCRIBE into every other stream, explicitly', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws`);
    expect(await client.request({ method: 'UNSUBSCRIBE', params: [ETH], id: 1 })).toEqual({
      result: null,
      id: 1,
    });
    expect(await client.request({ method: 'LIST_SUBSCRIPTIONS', id: 2 })).toEqual({
      result: [BTC, TRADE],
      id: 2,
    });
    const events = publishAll(hub, 0);
    await expectCount(client, 4);
    expect(client.messages.slice(2)).toEqual([raw(events[0]), raw(events[2])]);
  });

  it('answers bad input with Binance error objects and keeps the connection usable', async () => {
    const { hub, base } = await start({ maxStreamsPerConnection: 2 });
    const client = await connectClient(`${base}/ws/${BTC}`);
    const cases: [unknown, { code: number; msg: RegExp; id: number | string | null }][] = [
      ['{"method":', { code: 3, msg: /^Invalid JSON: /, id: null }],
      [
        { method: 'SUBSCRIBEE', params: [ETH], id: 4 },
        {
          code: 2,
          msg: /^Invalid request: unknown variant `SUBSCRIBEE`, expected one of `SUBSCRIBE`/,
          id: 4,
        },
      ],
      [
        { params: [ETH], id: 5 },
        { code: 2, msg: /^Invalid request: missing field `method`$/, id: 5 },
      ],
      [
        { method: 'SUBSCRIBE', params: [ETH], id: { n: 1 } },
        { code: 2, msg: /^Invalid request: request ID must be an unsigned integer$/, id: null },
      ],
      [
        { method: 'SUBSCRIBE', params: ['bnbbtc@kline_1m'], id: 6 },
        { code: 2, msg: /^Invalid request: unknown stream 'bnbbtc@kline_1m'/, id: 6 },
      ],
      [
        { method: 'SUBSCRIBE', params: ['btcusdt@depth'], id: 7 },
        { code: 2, msg: /^Invalid request: invalid stream 'btcusdt@depth'$/, id: 7 },
      ],
      [
        { method: 'SUBSCRIBE', params: [ETH, TRADE], id: 8 },
        { code: 2, msg: /^Invalid request: too many streams, at most 2 per connection$/, id: 8 },
      ],
      [
        { method: 'SET_PROPERTY', params: ['compressed', true], id: 9 },
        { code: 0, msg: /^Unknown property$/, id: 9 },
      ],
      [
        { method: 'SET_PROPERTY', params: ['combined', 'yes'], id: 10 },
        { code: 1, msg: /^Invalid value type: expected Boolean$/, id: 10 },
      ],
      [
        { method: 'GET_PROPERTY', params: [1], id: 11 },
        { code: 2, msg: /^Invalid request: property name must be a string$/, id: 11 },
      ],
    ];
    for (const [body, expected] of cases) {
      const reply = errorFrame.parse(await client.request(body));
      expect({ code: reply.error.code, id: reply.id }).toEqual({ code: expected.code, id: expected.id });
      expect(reply.error.msg).toMatch(expected.msg);
    }
    // Nothing above changed the subscriptions, and the connection still works.
    expect(await client.request({ method: 'LIST_SUBSCRIPTIONS', id: 12 })).toEqual({ result: [BTC], id: 12 });
    const [btc] = publishAll(hub, 0);
    await expectCount(client, cases.length + 2);
    expect(client.messages.at(-1)).toBe(raw(btc));
  });

  it('refuses an upgrade naming an unknown or malformed stream with 400 and an unknown path with 404', async () => {
    const { base } = await start();
    const unknown = await refusedUpgrade(`${base}/ws/bnbbtc@kline_1m`);
    expect(unknown.status).toBe(400);
    expect(errorFrame.parse(JSON.parse(unknown.body)).error.msg).toMatch(/unknown stream 'bnbbtc@kline_1m'/);
    const malformed = await refusedUpgrade(`${base}/stream?streams=${BTC}/nonsense`);
    expect(malformed.status).toBe(400);
    expect(errorFrame.parse(JSON.parse(malformed.body)).error.msg).toBe(
      "Invalid request: invalid stream 'nonsense'",
    );
    expect((await refusedUpgrade(`${base}/elsewhere`)).status).toBe(404);
  });

  it('accepts a raw path segment that names no stream (/ws/0, as ccxt opens) and subscribes on it', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws/0`);
    expect(await client.request({ method: 'SUBSCRIBE', params: [BTC], id: 1 })).toEqual({
      result: null,
      id: 1,
    });
    const before = client.messages.length;
    const events = publishAll(hub, 0);
    await until(() => client.messages.length === before + 1);
    expect(client.messages.at(-1)).toBe(raw(events.find((e) => e.stream === BTC)));
  });

  it('gives two concurrent clients every update', async () => {
    const { hub, base } = await start();
    const a = await connectClient(`${base}/ws`);
    const b = await connectClient(`${base}/stream?streams=${BTC}/${ETH}/${TRADE}`);
    const events: Event[] = [];
    for (let i = 0; i < 200; i++) events.push(...publishAll(hub, i));
    await until(() => a.messages.length === 600 && b.messages.length === 600);
    expect(a.messages).toEqual(events.map(raw));
    expect(b.messages).toEqual(events.map(combined));
  });

  it('renders each event once per wire form however many clients receive it', async () => {
    const { hub, base } = await start();
    const clients = await Promise.all([
      connectClient(`${base}/ws`),
      connectClient(`${base}/ws/${BTC}`),
      connectClient(`${base}/ws/${BTC}`),
      connectClient(`${base}/stream?streams=${BTC}`),
      connectClient(`${base}/stream?streams=${BTC}`),
    ]);
    const stringify = vi.spyOn(JSON, 'stringify');
    let event: Event | undefined;
    try {
      event = hub.publishCandle(BTC, testCandle({ openTimeMs: T0 }));
      await until(() => clients.every((c) => c.messages.length === 1));
      // The raw form quotes the symbol and the interval once, the combined wrapper the stream once.
      expect(stringify.mock.calls.map(([value]) => value)).toEqual(['BTCUSDT', '1m', BTC]);
    } finally {
      stringify.mockRestore();
    }
    expect(clients.map((c) => c.messages[0])).toEqual([
      raw(event),
      raw(event),
      raw(event),
      combined(event),
      combined(event),
    ]);
  });

  it('closes a consumer that stops reading with 1008 while a fast client receives everything', async () => {
    const { hub, base } = await start({ maxBufferedBytes: 16 * 1024, slowConsumerCloseGraceMs: 5_000 });
    const fast = await connectClient(`${base}/ws/${BTC}`);
    const slow = await connectClient(`${base}/ws/${BTC}`);
    (await slow.tcp).pause();
    let published = 0;
    const publish = () =>
      hub.publishCandle(BTC, testCandle({ openTimeMs: T0 + published++ * 60_000, closed: false }));
    const slowGone = slow.closed.then(() => true);
    let cutOff = false;
    void slowGone.then((v) => {
      cutOff = v;
    });
    // Bursts the fast client drains between; the slow one's kernel and user-space buffers fill
    // until it is cut off.
    while (published < 200_000 && !(await metricValue('ingest_ws_slow_consumers_dropped_total'))) {
      for (let i = 0; i < 256; i++) publish();
      await until(() => fast.messages.length === published);
    }
    expect(await metricValue('ingest_ws_slow_consumers_dropped_total')).toBe(1);
    expect(cutOff).toBe(false); // it has not read its close frame yet
    for (let i = 0; i < 16; i++) publish();
    await until(() => fast.messages.length === published);
    expect(fast.messages.map((m) => binanceKlineEvent.parse(JSON.parse(m)).k.t)).toEqual(
      Array.from({ length: published }, (_, i) => T0 + i * 60_000),
    );
    (await slow.tcp).resume();
    expect(await slow.closed).toEqual({ code: 1008, reason: 'slow consumer' });
    expect(slow.messages.length).toBeLessThan(published);
  });

  it('closes its clients with 1013 when the edge itself falls behind the bus, and serves them again after', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`${base}/ws/${BTC}`);
    // More events in one go than the edge's own subscription may queue: as if the event loop had
    // been blocked while the market went on. Its clients would have a hole: they are told to reconnect.
    for (let i = 0; i < 100_002; i++) hub.publishCandle(BTC, testCandle({ openTimeMs: T0 + i * 60_000 }));
    expect(await client.closed).toEqual({ code: 1013, reason: 'server fell behind; reconnect' });
    const again = await connectClient(`${base}/ws/${BTC}`);
    const event = hub.publishCandle(BTC, testCandle({ openTimeMs: T0 - 60_000 }));
    await until(() => again.messages.length === 1);
    expect(again.messages).toEqual([raw(event)]);
  });

  it('closes a connection over the inbound rate limit with 1008', async () => {
    const { base } = await start({ inboundRateLimit: { messagesPerSecond: 0.001, burst: 3 } });
    const client = await connectClient(`${base}/ws/${BTC}`);
    for (let id = 1; id <= 3; id++) {
      expect(await client.request({ method: 'LIST_SUBSCRIPTIONS', id })).toEqual({ result: [BTC], id });
    }
    client.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 4 }));
    expect(await client.closed).toEqual({ code: 1008, reason: 'too many messages' });
    expect(client.messages).toHaveLength(3);
  });

  it('closes with 1009 on an incoming frame over maxPayload', async () => {
    const { base } = await start({ maxPayloadBytes: 512 });
    const client = await connectClient(`${base}/ws/${BTC}`);
    client.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: Array(100).fill(ETH), id: 1 }));
    expect((await client.closed).code).toBe(1009);
  });

  it('refuses browser origins outside the allowlist with 403', async () => {
    const { base } = await start({ allowedOrigins: ['https://charts.example'] });
    expect((await refusedUpgrade(`${base}/ws`, { origin: 'https://other.example' })).status).toBe(403);
    const allowed = await connectClient(`${base}/ws`, { headers: { origin: 'https://charts.example' } });
    expect(await allowed.request({ method: 'LIST_SUBSCRIPTIONS', id: 1 })).toEqual({
      result: [BTC, ETH, TRADE],
      id: 1,
    });
  });
});

describe('bad client input (issue 10, items 3 and 8)', () => {
  it('counts bad messages by code and logs a truncated sample, at most 5 per 10 s per code', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const { base } = await start({ inboundRateLimit: null }, logger);
    const client = await connectClient(`${base}/ws/${BTC}`);
    const huge = `{"method":${'['.repeat(5)}${'x'.repeat(10_000)}`;
    for (let i = 0; i < 400; i++) await client.request(i % 2 === 0 ? huge : { method: 'NOPE', id: i });
    expect(await metricValue('ingest_ws_client_errors_total', 'code="invalid_json"')).toBe(200);
    expect(await metricValue('ingest_ws_client_errors_total', 'code="invalid_request"')).toBe(200);
    const logged = lines
      .map((l) =>
        z
          .object({ msg: z.string(), code: z.string().optional(), sample: z.string().optional() })
          .parse(JSON.parse(l)),
      )
      .filter((l) => l.msg === 'bad websocket client message');
    expect(logged.map((l) => l.code).sort()).toEqual([
      ...Array(5).fill('invalid_json'),
      ...Array(5).fill('invalid_request'),
    ]);
    for (const l of logged) expect(l.sample?.length).toBeLessThanOrEqual(230);
    expect(lines.join('\n')).not.toContain('x'.repeat(300));
  });

  it('truncates echoed stream names and methods in error replies and refused upgrades', async () => {
    const { base } = await start({ inboundRateLimit: null, maxPayloadBytes: 64 * 1024 });
    const client = await connectClient(`${base}/ws/${BTC}`);
    const name = `${'n'.repeat(20_000)}@kline_1m`;
    const replies = [
      await client.request({ method: 'SUBSCRIBE', params: [name], id: 1 }),
      await client.request({ method: 'UNSUBSCRIBE', params: ['q'.repeat(20_000)], id: 2 }),
      await client.request({ method: 'm'.repeat(20_000), id: 3 }),
      await client.request({ method: { deep: 'v'.repeat(20_000) }, id: 4 }),
    ];
    for (const reply of replies) {
      const msg = errorFrame.parse(reply).error.msg;
      expect(msg.length).toBeLessThan(300);
      expect(msg).toMatch(/…\(\d+ more chars\)/);
    }
    const upgrade = await refusedUpgrade(`${base}/ws/${'u'.repeat(4_000)}@kline_1m`);
    expect(upgrade.status).toBe(400);
    expect(upgrade.body.length).toBeLessThan(300);
  });
});

async function metricValue(name: string, labels?: string): Promise<number> {
  if (!edge) throw new Error('no edge');
  const text = await (await fetch(`http://127.0.0.1:${edge.port}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) =>
      labels === undefined
        ? l.startsWith(`${name}{`) || l.startsWith(`${name} `)
        : l.startsWith(`${name}{${labels}`),
    );
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}
