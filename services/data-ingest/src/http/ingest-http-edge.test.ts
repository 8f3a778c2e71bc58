import {
  binanceExchangeInfo,
  binanceKlineRows,
  binanceRestError,
  toBinanceKlineRow,
} from '@visualgo/contracts';
import { BearerAuth, createMetrics } from '@visualgo/platform';
import { testCandle, testTrade } from '@visualgo/testing';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeIngest } from '../testing/fake-ingest.js';
import { staticMetadata } from '../testing/static-metadata.js';
import { connectClient, refusedUpgrade, terminateClients, until } from '../ws/ws-test-client.js';
import { type IngestHttpEdge, startIngestHttpEdge } from './ingest-http-edge.js';

const BTC = 'btcusdt@kline_1m';
const ETH = 'ethusdt@kline_1m';
const TRADE = 'btcusdt@trade';
const T0 = 1_700_000_040_000;
const MINUTE = 60_000;

let edge: IngestHttpEdge | undefined;
afterEach(async () => {
  terminateClients();
  await edge?.close();
  edge = undefined;
});

async function start(
  options: { closeTimeoutMs?: number; auth?: BearerAuth } = {},
): Promise<{ hub: FakeIngest; base: string }> {
  const hub = new FakeIngest([BTC, ETH, TRADE]);
  edge = await startIngestHttpEdge({
    bus: hub.bus,
    view: hub,
    metadata: staticMetadata(['BTCUSDT', 'ETHUSDT']),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('data-ingest', false),
    host: '127.0.0.1',
    port: 0,
    ws: { heartbeatIntervalMs: 0 },
    ...options,
  });
  return { hub, base: `http://127.0.0.1:${edge.port}` };
}

/** Three closed BTC candles and the open one after them; the start-up history is in. */
function seedBtc(hub: FakeIngest): void {
  hub.ready = true;
  hub.seed(
    BTC,
    [0, 1, 2].map((i) => testCandle({ openTimeMs: T0 + i * MINUTE, close: 100 + i })),
  );
  hub.seed(BTC, [testCandle({ openTimeMs: T0 + 3 * MINUTE, close: 1983.55, closed: false })]);
}

async function klines(base: string, query: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/api/v3/klines?${query}`);
  return { status: res.status, body: await res.json() };
}

describe('GET /api/v3/klines', () => {
  it("answers in Binance's 12-field row format with 8-decimal strings", () => {
    const c = testCandle({
      openTimeMs: T0,
      open: 1983.5,
      high: 1990.01,
      low: 1980,
      close: 1983.55,
      volume: 12.345,
      quoteVolume: 24_487.12345678,
      takerBuyVolume: 0.1,
      takerBuyQuoteVolume: 198.355,
      trades: 42,
    });
    expect(toBinanceKlineRow(c)).toEqual([
      T0,
      '1983.50000000',
      '1990.01000000',
      '1980.00000000',
      '1983.55000000',
      '12.34500000',
      T0 + MINUTE - 1,
      '24487.12345678',
      42,
      '0.10000000',
      '198.35500000',
      '0',
    ]);
  });

  it('returns the latest candles with the open one last, and honours limit, startTime and endTime', async () => {
    const { hub, base } = await start();
    seedBtc(hub);
    const all = await klines(base, 'symbol=BTCUSDT&interval=1m');
    expect(all.status).toBe(200);
    const rows = binanceKlineRows.parse(all.body);
    expect(rows.map((r) => [r[0], r[4]])).toEqual([
      [T0, '100.00000000'],
      [T0 + MINUTE, '101.00000000'],
      [T0 + 2 * MINUTE, '102.00000000'],
      [T0 + 3 * MINUTE, '1983.55000000'],
    ]);
    const openTimes = async (query: string): Promise<number[]> =>
      binanceKlineRows
        .parse((await klines(base, `symbol=BTCUSDT&interval=1m&${query}`)).body)
        .map((r) => r[0]);
    expect(await openTimes('limit=2')).toEqual([T0 + 2 * MINUTE, T0 + 3 * MINUTE]);
    expect(await openTimes(`startTime=${T0}&limit=2`)).toEqual([T0, T0 + MINUTE]);
    expect(await openTimes(`startTime=${T0 + MINUTE}`)).toEqual([
      T0 + MINUTE,
      T0 + 2 * MINUTE,
      T0 + 3 * MINUTE,
    ]);
    expect(await openTimes(`endTime=${T0 + 2 * MINUTE}`)).toEqual([T0, T0 + MINUTE, T0 + 2 * MINUTE]);
    expect(await openTimes(`startTime=${T0 + 3 * MINUTE}`)).toEqual([T0 + 3 * MINUTE]);
    expect(await openTimes('limit=5000')).toHaveLength(4); // capped at 1000 as Binance does
    expect(binanceKlineRows.parse((await klines(base, 'symbol=btcusdt&interval=1m')).body)).toHaveLength(4);
  });

  it('answers 503 while the start-up history is loading, never rows that would hide a gap', async () => {
    // A client filling what it missed while data-ingest restarted took an empty answer here for
    // "nothing there", and kept the hole (found by the chaos suite's kill-ingest scenario).
    const { hub, base } = await start();
    seedBtc(hub);
    hub.ready = false;
    const loading = await klines(base, `symbol=BTCUSDT&interval=1m&startTime=${T0}`);
    expect(loading.status).toBe(503);
    expect(binanceRestError.parse(loading.body)).toEqual({
      code: -1001,
      msg: 'History is still loading; retry shortly.',
    });
    hub.ready = true;
    expect(
      binanceKlineRows.parse((await klines(base, `symbol=BTCUSDT&interval=1m&startTime=${T0}`)).body),
    ).toHaveLength(4);
  });

  it('answers bad requests with 400 and Binance error bodies', async () => {
    const { hub, base } = await start();
    seedBtc(hub);
    const cases: [string, number, string | RegExp][] = [
      ['interval=1m', -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."],
      ['symbol=BTCUSDT', -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."],
      ['symbol=BNBBTC&interval=1m', -1121, 'Invalid symbol.'],
      ['symbol=BTC%24&interval=1m', -1100, /^Illegal characters found in parameter 'symbol'/],
      ['symbol=BTCUSDT&interval=7m', -1120, 'Invalid interval.'],
      ['symbol=BTCUSDT&interval=5m', -1120, 'Invalid interval. This service serves BTCUSDT klines for: 1m.'],
      ['symbol=BTCUSDT&interval=1m&limit=abc', -1100, /^Illegal characters found in parameter 'limit'/],
      ['symbol=BTCUSDT&interval=1m&limit=0', -1130, "Data sent for parameter 'limit' is not valid."],
      [
        'symbol=BTCUSDT&interval=1m&startTime=-5',
        -1100,
        /^Illegal characters found in parameter 'startTime'/,
      ],
      [
        `symbol=BTCUSDT&interval=1m&startTime=${T0 + 1}&endTime=${T0}`,
        -1023,
        'Start time is greater than end time.',
      ],
    ];
    for (const [query, code, msg] of cases) {
      const { status, body } = await klines(base, query);
      expect(status, query).toBe(400);
      const error = binanceRestError.parse(body);
      expect(error.code, query).toBe(code);
      if (typeof msg === 'string') expect(error.msg).toBe(msg);
      else expect(error.msg).toMatch(msg);
    }
  });
});

describe('health, readiness and metrics', () => {
  it('/healthz and /health describe the source and each stream; /readyz is 503 until the hub is ready', async () => {
    const { hub, base } = await start();
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    hub.publishCandle(BTC, testCandle({ openTimeMs: T0, eventTimeMs: T0 + 5, receivedTimeMs: T0 + 9 }));
    hub.publishTrade(TRADE, testTrade({ tradeId: 1 }));
    hub.publishStatus(BTC, { kind: 'gap-filled', timeMs: T0 });
    hub.ready = true;
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', ready: true, exchange: 'binance-sim' });
    for (const path of ['/healthz', '/health']) {
      const body = await (await fetch(`${base}${path}`)).json();
      expect(body).toMatchObject({
        status: 'ok',
        service: 'data-ingest',
        exchange: 'binance-sim',
        ready: true,
        streams: [
          expect.objectContaining({
            stream: BTC,
            events: 1,
            lastEventTimeMs: T0 + 5,
            lastReceivedTimeMs: T0 + 9,
            lastStatus: 'gap-filled',
          }),
          expect.objectContaining({ stream: ETH, events: 0, lastEventTimeMs: null, lastStatus: null }),
          expect.objectContaining({ stream: TRADE, events: 1, lastEventTimeMs: 1_700_000_000_001 }),
        ],
      });
    }
  });

  it('/metrics exposes WebSocket clients and messages out per stream', async () => {
    const { hub, base } = await start();
    const client = await connectClient(`ws://127.0.0.1:${edge?.port}/ws/${BTC}`);
    hub.publishCandle(BTC, testCandle({ openTimeMs: T0 }));
    hub.publishCandle(ETH, testCandle({ openTimeMs: T0, symbol: 'ETHUSDT' }));
    await until(() => client.messages.length === 1);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('ingest_ws_clients{service="data-ingest"} 1');
    expect(text).toContain(`ingest_ws_stream_messages_out_total{stream="${BTC}",service="data-ingest"} 1`);
    expect(text).not.toContain(`stream="${ETH}"`);
    expect(text).toContain('ingest_ws_slow_consumers_dropped_total{service="data-ingest"} 0');
  });
});

describe('close', () => {
  it('sends 1001 to WebSocket clients and finishes within its bound, even with a client that stopped reading', async () => {
    const { base } = await start({ closeTimeoutMs: 500 });
    const wsBase = base.replace('http', 'ws');
    const a = await connectClient(`${wsBase}/ws`);
    const stuck = await connectClient(`${wsBase}/ws/${BTC}`);
    (await stuck.tcp).pause();
    // The stuck client never answers the close handshake: close() returns only because its
    // bound runs out (were the bound ignored, this test would time out).
    await edge?.close();
    expect(await a.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});

describe('bearer token (AUTH_TOKEN)', () => {
  const TOKEN = 'ingest-token-abcdef-123';

  it('requires it on REST, metrics and WebSocket upgrades, not on health and readiness', async () => {
    const { hub, base } = await start({ auth: new BearerAuth(TOKEN) });
    seedBtc(hub);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${base}/api/v3/klines?symbol=BTCUSDT&interval=1m`)).status).toBe(401);
    expect((await fetch(`${base}/api/v3/klines?symbol=BTCUSDT&interval=1m`, { headers: auth })).status).toBe(
      200,
    );
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ws = base.replace('http', 'ws');
    expect((await refusedUpgrade(`${ws}/ws`)).status).toBe(401);
    expect((await refusedUpgrade(`${ws}/ws?access_token=not-the-token-000`)).status).toBe(401);
    await connectClient(`${ws}/ws`, { headers: auth });
    await connectClient(`${ws}/stream?streams=${BTC}&access_token=${TOKEN}`);
  });
});

describe('what a Binance client calls while starting', () => {
  it('answers ping, time and exchangeInfo limited to the symbols served', async () => {
    const { base } = await start();
    const get = async (path: string) => {
      const res = await fetch(`${base}${path}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(await get('/api/v3/ping')).toEqual({ status: 200, body: {} });
    expect(await get('/api/v3/time')).toEqual({ status: 200, body: { serverTime: 1_700_000_000_000 } });
    const all = await get('/api/v3/exchangeInfo');
    expect(all.status).toBe(200);
    expect(binanceExchangeInfo.parse(all.body).symbols.map((s) => s.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(all.body.rateLimits).toEqual([expect.objectContaining({ rateLimitType: 'REQUEST_WEIGHT' })]);
    const one = await get('/api/v3/exchangeInfo?symbol=ethusdt');
    expect(binanceExchangeInfo.parse(one.body).symbols.map((s) => s.symbol)).toEqual(['ETHUSDT']);
    const many = await get(`/api/v3/exchangeInfo?symbols=${encodeURIComponent('["BTCUSDT"]')}`);
    expect(binanceExchangeInfo.parse(many.body).symbols.map((s) => s.symbol)).toEqual(['BTCUSDT']);
    expect(await get('/api/v3/exchangeInfo?symbol=BNBBTC')).toEqual({
      status: 400,
      body: { code: -1121, msg: 'Invalid symbol.' },
    });
    const bad = await get('/api/v3/exchangeInfo?symbols=BTCUSDT');
    expect(bad.status).toBe(400);
    expect(binanceRestError.parse(bad.body).code).toBe(-1100);
  });
});
