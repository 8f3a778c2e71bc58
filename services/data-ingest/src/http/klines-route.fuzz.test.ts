/**
 * Hostile input to `GET /api/v3/klines` (issue 10): 2000 generated query strings. Each gets 200
 * with kline rows or 400 with Binance's `{"code","msg"}`, a short message and nothing echoed at
 * length; the server keeps serving.
 */
import { binanceKlineRows, binanceRestError } from '@visualgo/contracts';
import { createMetrics } from '@visualgo/platform';
import { testCandle } from '@visualgo/testing';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeIngest } from '../testing/fake-ingest.js';
import { staticMetadata } from '../testing/static-metadata.js';
import { type IngestHttpEdge, startIngestHttpEdge } from './ingest-http-edge.js';

const BTC = 'btcusdt@kline_1m';
const T0 = 1_700_000_040_000;
let edge: IngestHttpEdge;

beforeAll(async () => {
  const hub = new FakeIngest([BTC, 'ethusdt@kline_1m', 'btcusdt@trade']);
  hub.ready = true;
  hub.seed(
    BTC,
    Array.from({ length: 30 }, (_, i) => testCandle({ openTimeMs: T0 + i * 60_000 })),
  );
  edge = await startIngestHttpEdge({
    bus: hub.bus,
    view: hub,
    metadata: staticMetadata(['BTCUSDT', 'ETHUSDT']),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('data-ingest', false),
    host: '127.0.0.1',
    port: 0,
    ws: { heartbeatIntervalMs: 0 },
  });
});

afterAll(async () => {
  await edge?.close();
});

describe('GET /api/v3/klines under generated input', () => {
  it('answers 2000 generated queries with rows or a short Binance error', async () => {
    const time = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 53 }).map(String),
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 70n }).map(String),
      fc.constantFrom(String(T0), String(T0 + 600_000), '9223372036854775807', '-1', '1e3', '0x10', ''),
      fc.string({ maxLength: 30 }),
    );
    const query = fc.record(
      {
        symbol: fc.oneof(
          fc.constantFrom('BTCUSDT', 'btcusdt', 'ETHUSDT', 'DOGEUSDT', ''),
          fc.string({ maxLength: 40 }),
        ),
        interval: fc.oneof(fc.constantFrom('1m', '1h', '7m', '1M', ''), fc.string({ maxLength: 10 })),
        startTime: time,
        endTime: time,
        limit: fc.oneof(fc.integer({ min: -5, max: 5_000 }).map(String), fc.string({ maxLength: 10 })),
        junk: fc.string({ maxLength: 3_000 }),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(query, async (params) => {
        const res = await fetch(`http://127.0.0.1:${edge.port}/api/v3/klines?${new URLSearchParams(params)}`);
        const body: unknown = await res.json();
        if (res.status === 200) {
          expect(binanceKlineRows.safeParse(body).success).toBe(true);
        } else {
          expect(res.status).toBe(400);
          const error = binanceRestError.parse(body);
          expect(error.msg.length).toBeLessThanOrEqual(200);
        }
      }),
      { numRuns: 2_000 },
    );
    expect((await fetch(`http://127.0.0.1:${edge.port}/healthz`)).status).toBe(200);
  }, 60_000);
});
