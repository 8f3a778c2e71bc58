/**
 * Hostile input to data-ingest's gRPC API (issue 10): generated request fields (stream names of
 * any kind and length, repeated names, int64 times over the whole int64 range, int32 limits) and
 * raw bytes that are not a valid message. Every call ends with a status a client can act on
 * (OK, INVALID_ARGUMENT, OUT_OF_RANGE, RESOURCE_EXHAUSTED), never INTERNAL or UNKNOWN, and the
 * status message stays small.
 */
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { marketDataProto } from '@visualgo/contracts';
import { testCandle } from '@visualgo/testing';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeIngest } from '../testing/fake-ingest.js';
import { until } from '../ws/ws-test-client.js';
import { type GrpcEdge, startGrpcEdge } from './grpc-server.js';

const KLINE = 'btcusdt@kline_1m';
const TRADE = 'btcusdt@trade';
const T0 = Date.UTC(2024, 0, 1);
const ACTIONABLE = [status.OK, status.INVALID_ARGUMENT, status.OUT_OF_RANGE, status.RESOURCE_EXHAUSTED];
const MAX_DETAILS = 512;
const identity = (b: Buffer) => b;

let edge: GrpcEdge;
let client: InstanceType<typeof marketDataProto.MarketDataClient>;
let raw: Client;

beforeAll(async () => {
  const hub = new FakeIngest([KLINE, 'ethusdt@kline_1m', TRADE]);
  hub.ready = true;
  hub.seed(
    KLINE,
    Array.from({ length: 20 }, (_, i) => testCandle({ openTimeMs: T0 + i * 60_000 })),
  );
  edge = await startGrpcEdge({
    bus: hub.bus,
    view: hub,
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
    host: '127.0.0.1',
    port: 0,
  });
  edge.setServing(true);
  client = new marketDataProto.MarketDataClient(`127.0.0.1:${edge.port}`, credentials.createInsecure());
  raw = new Client(`127.0.0.1:${edge.port}`, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  raw?.close();
  await edge?.close(200);
});

const name = fc.oneof(
  fc.constantFrom(KLINE, TRADE, 'ethusdt@kline_1m', 'BTCUSDT@kline_1m', 'btcusdt@kline_7m', ''),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 100, max: 20_000 }).map((n) => 'n'.repeat(n)),
);
const names = fc.oneof(
  fc.array(name, { maxLength: 8 }),
  fc.tuple(name, fc.integer({ min: 1, max: 1_100 })).map(([n, times]) => Array<string>(times).fill(n)),
);
const int64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(
    0n,
    -1n,
    2n ** 53n,
    2n ** 53n + 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    BigInt(T0),
    BigInt(T0 + 600_000),
  ),
);
const int32 = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.integer({ min: -5, max: 1_005 }),
);

function check(code: number, details: string, what: string): void {
  expect(ACTIONABLE, `${what}: ${status[code]} ${details}`).toContain(code);
  expect(details.length, what).toBeLessThanOrEqual(MAX_DETAILS);
}

/**
 * How a streaming call ends: refused at once, or accepted (a first message, or taken by the edge
 * with nothing to send yet), in which case it is cancelled and counts as OK.
 */
async function settle(
  call: NodeJS.ReadableStream & { cancel(): void },
): Promise<{ code: number; details: string }> {
  let result: { code: number; details: string } | null = null;
  void first(call).then((r) => {
    result = r;
  });
  const deadline = Date.now() + 5_000;
  while (result === null && edge.openStreams === 0 && Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
  }
  if (result === null) call.cancel();
  await until(() => result !== null && edge.openStreams === 0);
  const settled = result as unknown as { code: number; details: string };
  return settled.code === status.CANCELLED ? { code: status.OK, details: '' } : settled;
}

/** The first message of a stream or how it ended. */
function first(call: NodeJS.ReadableStream): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    call.on('data', () => resolve({ code: status.OK, details: '' }));
    call.on('error', (e: ServiceError) => resolve({ code: e.code, details: e.details }));
    call.on('end', () => resolve({ code: status.OK, details: '' }));
  });
}

describe('gRPC requests under generated input', () => {
  it('GetCandles: 1000 generated requests end OK or with an actionable status', async () => {
    await fc.assert(
      fc.asyncProperty(
        name,
        int64,
        int64,
        int32,
        fc.boolean(),
        async (stream, startTimeMs, endTimeMs, limit, heldOnly) => {
          const outcome = await new Promise<{ code: number; details: string }>((resolve) =>
            client.getCandles({ stream, startTimeMs, endTimeMs, limit, heldOnly }, (e) =>
              resolve(e ? { code: e.code, details: e.details } : { code: status.OK, details: '' }),
            ),
          );
          check(
            outcome.code,
            outcome.details,
            `GetCandles ${stream.slice(0, 30)} ${startTimeMs} ${endTimeMs} ${limit}`,
          );
        },
      ),
      { numRuns: 1_000 },
    );
  }, 60_000);

  it('StreamCandles and StreamTrades: 1000 generated requests end OK or with an actionable status', async () => {
    await fc.assert(
      fc.asyncProperty(
        names,
        int64,
        fc.boolean(),
        fc.boolean(),
        async (streams, since, closedOnly, trades) => {
          const result = await settle(
            trades
              ? client.streamTrades({ streams })
              : client.streamCandles({ streams, sinceOpenTimeMs: since, closedOnly }),
          );
          check(
            result.code,
            result.details,
            `${trades ? 'StreamTrades' : 'StreamCandles'} ${streams.length} names`,
          );
        },
      ),
      { numRuns: 1_000 },
    );
  }, 90_000);

  it('answers 1000 raw byte strings on every method without INTERNAL', async () => {
    const methods = [
      '/visualgo.v1.MarketData/StreamCandles',
      '/visualgo.v1.MarketData/StreamTrades',
      '/visualgo.v1.MarketData/StreamFeedStatus',
      '/KlineService/StreamKlines',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom(...methods, 'unary'),
        async (bytes, method) => {
          const body = Buffer.from(bytes);
          const result =
            method === 'unary'
              ? await new Promise<{ code: number; details: string }>((resolve) =>
                  raw.makeUnaryRequest('/visualgo.v1.MarketData/GetCandles', identity, identity, body, (e) =>
                    resolve(e ? { code: e.code, details: e.details } : { code: status.OK, details: '' }),
                  ),
                )
              : await settle(raw.makeServerStreamRequest(method, identity, identity, body, new Metadata()));
          check(result.code, result.details, `${method} ${body.toString('hex').slice(0, 60)}`);
        },
      ),
      { numRuns: 1_000 },
    );
  }, 90_000);
});
