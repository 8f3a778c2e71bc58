/**
 * Issue 10, item 7: with the exchange's clock moved back hours, data-ingest dropped every event as
 * stale for minutes while /readyz said ready and the stream status said connected. Here a fake
 * exchange keeps sending 1s klines whose times jump three hours back: readiness (HTTP and gRPC
 * health), /healthz, and StreamFeedStatus must turn unhealthy and say why, then recover when the
 * clock is right again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { marketDataProto } from '@visualgo/contracts';
import { loadConfig } from '@visualgo/platform';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ingestConfigSchema } from '../src/app/config.js';
import { type IngestService, startIngestService } from '../src/app/ingest-service.js';
import { FakeBinanceStreams } from '../src/binance/fake-binance-streams.js';

const STREAM = 'btcusdt@kline_1s';
const HOURS_3 = 3 * 3_600_000;

let exchange: FakeBinanceStreams;
let rest: Server;
let ingest: IngestService;
let pump: NodeJS.Timeout;
/** The fake exchange's clock, relative to ours. */
let offsetMs = 0;

/** A 1s kline frame for the candle open at `openTimeMs`, as of `eventTimeMs`. */
function kline(openTimeMs: number, eventTimeMs: number, closed: boolean) {
  return {
    e: 'kline',
    E: eventTimeMs,
    s: 'BTCUSDT',
    k: {
      t: openTimeMs,
      T: openTimeMs + 999,
      s: 'BTCUSDT',
      i: '1s',
      f: 100,
      L: 200,
      o: '27000.00000000',
      c: '27010.50000000',
      h: '27020.00000000',
      l: '26990.00000000',
      v: '12.50000000',
      n: 101,
      x: closed,
      q: '337600.00000000',
      V: '6.00000000',
      Q: '162000.00000000',
      B: '0',
    },
  };
}

beforeAll(async () => {
  exchange = await FakeBinanceStreams.start();
  // REST: the exchange's time, and the closed 1s klines of the last ten seconds as history, so
  // the series is anchored on the exchange's clock before that clock moves.
  rest = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    const now = Date.now() + offsetMs;
    if (req.url?.startsWith('/api/v3/time')) {
      res.end(JSON.stringify({ serverTime: now }));
      return;
    }
    const last = now - (now % 1_000) - 1_000;
    const row = (t: number) => [
      t,
      '27000.00000000',
      '27020.00000000',
      '26990.00000000',
      '27010.50000000',
      '12.50000000',
      t + 999,
      '337600.00000000',
      101,
      '6.00000000',
      '162000.00000000',
      '0',
    ];
    res.end(JSON.stringify(Array.from({ length: 10 }, (_, i) => row(last - (9 - i) * 1_000))));
  });
  await new Promise<void>((resolve) => rest.listen(0, '127.0.0.1', resolve));
  // Every 100 ms an update of the current candle and, at each new second, the close of the last.
  let lastOpen = 0;
  pump = setInterval(() => {
    const t = Date.now() + offsetMs;
    const open = t - (t % 1_000);
    if (lastOpen !== 0 && open !== lastOpen) exchange.publish(STREAM, kline(lastOpen, t, true));
    lastOpen = open;
    exchange.publish(STREAM, kline(open, t, false));
  }, 100);
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'binance',
    BINANCE_WS_URL: exchange.url,
    BINANCE_REST_URL: `http://127.0.0.1:${(rest.address() as AddressInfo).port}`,
    SYMBOLS: 'btcusdt',
    INTERVALS: '1s',
    TRADES: 'false',
    HISTORY_CANDLES: '10',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: '0',
    INGEST_HTTP_PORT: '0',
    STREAM_STALL_GRACE_MS: '1000',
    LOG_LEVEL: 'silent',
  });
  ingest = await startIngestService(config, pino({ level: 'silent' }));
  await ingest.ready;
}, 30_000);

afterAll(async () => {
  clearInterval(pump);
  await ingest?.close();
  await exchange?.close();
  await new Promise((resolve) => rest?.close(resolve));
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const readyz = z.object({ ready: z.boolean(), reasons: z.array(z.string()) });
const healthz = z.object({
  ready: z.boolean(),
  streams: z.array(z.object({ stream: z.string(), health: z.string(), problem: z.string().nullable() })),
});

async function http<T>(path: string, schema: z.ZodType<T>): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${ingest.httpPort}${path}`);
  return { status: res.status, body: schema.parse(await res.json()) };
}

/** grpc.health.v1 Check of the whole server: 1 SERVING, 2 NOT_SERVING. */
async function grpcHealth(): Promise<number> {
  const raw = new Client(`127.0.0.1:${ingest.grpcPort}`, credentials.createInsecure());
  const identity = (b: Buffer) => b;
  try {
    const reply = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest('/grpc.health.v1.Health/Check', identity, identity, Buffer.alloc(0), (e, r) =>
        e || !r ? reject(e) : resolve(r),
      ),
    );
    return reply[1] ?? 0;
  } finally {
    raw.close();
  }
}

/** The first StreamFeedStatus message: the service's current state. */
async function currentFeedStatus(): Promise<marketDataProto.FeedStatus> {
  const client = new marketDataProto.MarketDataClient(
    `127.0.0.1:${ingest.grpcPort}`,
    credentials.createInsecure(),
  );
  const call = client.streamFeedStatus({});
  try {
    return await new Promise((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', (e: ServiceError) => reject(e));
    });
  } finally {
    call.cancel();
    client.close();
  }
}

describe('readiness that tells the truth', () => {
  it('turns not ready, and says why, while every event is dropped; ready again once events are accepted', async () => {
    expect((await http('/readyz', readyz)).status).toBe(200);
    expect(await grpcHealth()).toBe(1);
    const status: marketDataProto.FeedStatus[] = [];
    const client = new marketDataProto.MarketDataClient(
      `127.0.0.1:${ingest.grpcPort}`,
      credentials.createInsecure(),
    );
    const watch = client.streamFeedStatus({});
    watch.on('data', (s: marketDataProto.FeedStatus) => status.push(s));
    watch.on('error', () => {});
    await until('the watch to open', async () => status.length === 1);
    expect(status[0]).toMatchObject({
      kind: marketDataProto.FeedStatusKind.FEED_STATUS_KIND_CONNECTED,
      detail: 'current state: ready',
    });

    offsetMs = -HOURS_3; // the exchange's clock moves back three hours; it keeps sending
    await until('/readyz 503', async () => (await http('/readyz', readyz)).status === 503);
    const notReady = await http('/readyz', readyz);
    expect(notReady.body.ready).toBe(false);
    expect(notReady.body.reasons).toHaveLength(1);
    expect(notReady.body.reasons[0]).toMatch(
      /^btcusdt@kline_1s: no event accepted for \d+ s \(a 1s stream must accept one at least every 2 s\); \d+ updates since were dropped as stale and \d+ closed candles as duplicates: older than what was already received \(has the exchange's clock moved back\?\)$/,
    );
    const health = await http('/healthz', healthz);
    expect(health.status).toBe(200);
    expect(health.body.streams).toEqual([
      {
        stream: STREAM,
        health: 'stalled',
        problem: notReady.body.reasons[0],
        ...pick(health.body.streams[0]),
      },
    ]);
    await until('gRPC health NOT_SERVING', async () => (await grpcHealth()) === 2);
    const current = await currentFeedStatus();
    expect(current.kind).toBe(marketDataProto.FeedStatusKind.FEED_STATUS_KIND_DISCONNECTED);
    expect(current.detail).toMatch(/^current state: not ready: btcusdt@kline_1s: no event accepted/);
    await until('a stalled status event', async () =>
      status.some((s) => s.stream === STREAM && s.detail.startsWith('stalled: ')),
    );
    expect(ingest.client.stats().openConnections).toBe(1); // the connection itself is fine

    offsetMs = 0; // the clock is right again: events are accepted
    await until('/readyz 200 again', async () => (await http('/readyz', readyz)).status === 200);
    await until('gRPC health SERVING again', async () => (await grpcHealth()) === 1);
    await until('a recovered status event', async () =>
      status.some(
        (s) =>
          s.stream === STREAM &&
          s.kind === marketDataProto.FeedStatusKind.FEED_STATUS_KIND_CONNECTED &&
          s.detail === 'accepting events again',
      ),
    );
    expect((await http('/healthz', healthz)).body.streams[0]).toMatchObject({ health: 'ok', problem: null });
    watch.cancel();
    client.close();
  }, 30_000);
});

/** The fields of a /healthz stream entry this test does not pin down. */
function pick(entry: unknown): Record<string, unknown> {
  const { stream: _s, health: _h, problem: _p, ...rest } = entry as Record<string, unknown>;
  return rest;
}
