/**
 * What the gRPC edge does with requests at and past its limits: int64 edges, oversized requests,
 * too many or repeated stream names, malformed bytes, echoed input, per-address caps and health.
 * The regressions of issue 10 are named in the test titles.
 */
import { type CallOptions, Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { fromInt64, marketDataProto } from '@visualgo/contracts';
import { BearerAuth } from '@visualgo/platform';
import { testCandle } from '@visualgo/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeIngest } from '../testing/fake-ingest.js';
import { until } from '../ws/ws-test-client.js';
import { type GrpcEdge, type GrpcEdgeOptions, startGrpcEdge } from './grpc-server.js';
import { MAX_REQUEST_BYTES, MAX_STREAM_NAMES_PER_REQUEST } from './request-limits.js';

const STREAM = 'btcusdt@kline_1m';
const T0 = Date.UTC(2024, 0, 1);
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const identity = (b: Buffer) => b;

type MarketDataClient = InstanceType<typeof marketDataProto.MarketDataClient>;

let edge: GrpcEdge | undefined;
let registry: Registry;
const clients: { close(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await edge?.close(200);
  edge = undefined;
});

async function start(options: Partial<GrpcEdgeOptions> = {}): Promise<{ hub: FakeIngest; edge: GrpcEdge }> {
  const hub = new FakeIngest([STREAM, 'btcusdt@trade']);
  hub.ready = true;
  hub.seed(
    STREAM,
    [0, 1, 2].map((i) => testCandle({ openTimeMs: T0 + i * 60_000 })),
  );
  registry = new Registry();
  edge = await startGrpcEdge({
    bus: hub.bus,
    view: hub,
    logger: pino({ level: 'silent' }),
    metrics: registry,
    host: '127.0.0.1',
    port: 0,
    ...options,
  });
  edge.setServing(true);
  return { hub, edge };
}

/** A client on its own connection (grpc-js otherwise shares one connection per target). */
function newClient(port: number): MarketDataClient {
  const c = new marketDataProto.MarketDataClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  clients.push(c);
  return c;
}

function getCandles(
  client: MarketDataClient,
  request: Omit<marketDataProto.GetCandlesRequest, 'heldOnly'>,
): Promise<{ candles: number[]; error: ServiceError | null }> {
  return new Promise((resolve) =>
    client.getCandles({ heldOnly: true, ...request }, (err, res) =>
      resolve({
        candles: res?.candles.map((c) => fromInt64(c.openTimeMs, 'open_time_ms')) ?? [],
        error: err,
      }),
    ),
  );
}

/** The first message of a stream, or how it ended. */
function firstOf(stream: NodeJS.ReadableStream): Promise<{ data: unknown; error: ServiceError | null }> {
  return new Promise((resolve) => {
    stream.on('data', (data: unknown) => resolve({ data, error: null }));
    stream.on('error', (error: ServiceError) => resolve({ data: null, error }));
    stream.on('end', () => resolve({ data: null, error: null }));
  });
}

/** Sends raw request bytes to a server-streaming method; resolves with how the call ended first. */
function rawStream(port: number, path: string, body: Buffer, options: Partial<CallOptions> = {}) {
  const raw = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  clients.push(raw);
  const call = raw.makeServerStreamRequest(path, identity, identity, body, new Metadata(), options);
  return { call, first: firstOf(call) };
}

/** StreamCandlesRequest { repeated string streams = 1 }, hand-encoded: `name` `times` times. */
function namesRequest(name: string, times: number): Buffer {
  const bytes = Buffer.from(name);
  const entry = Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
  return Buffer.concat(Array.from({ length: times }, () => entry));
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('gRPC int64 edges (issue 10, item 2)', () => {
  it('GetCandles takes end_time_ms = INT64_MAX or 2^53+1 as no bound', async () => {
    const { edge } = await start();
    const client = newClient(edge.port);
    const all = [T0, T0 + 60_000, T0 + 120_000];
    const unbounded = await getCandles(client, { stream: STREAM, startTimeMs: 0n, endTimeMs: 0n, limit: 0 });
    expect(unbounded).toEqual({ candles: all, error: null });
    for (const end of [INT64_MAX, 2n ** 53n + 1n, 2n ** 53n]) {
      expect(await getCandles(client, { stream: STREAM, startTimeMs: 0n, endTimeMs: end, limit: 0 })).toEqual(
        { candles: all, error: null },
      );
      expect(
        await getCandles(client, {
          stream: STREAM,
          startTimeMs: BigInt(T0 + 60_000),
          endTimeMs: end,
          limit: 0,
        }),
      ).toEqual({ candles: all.slice(1), error: null });
    }
    // A start past every candle is a valid, empty range.
    expect(
      await getCandles(client, { stream: STREAM, startTimeMs: INT64_MAX, endTimeMs: 0n, limit: 0 }),
    ).toEqual({ candles: [], error: null });
  });

  it('GetCandles answers INT64_MIN and other negative bounds with INVALID_ARGUMENT, never INTERNAL', async () => {
    const { edge } = await start();
    const client = newClient(edge.port);
    for (const [startTimeMs, endTimeMs] of [
      [0n, INT64_MIN],
      [INT64_MIN, 0n],
      [-1n, INT64_MAX],
      [INT64_MAX, 1n],
    ] as const) {
      const { error } = await getCandles(client, { stream: STREAM, startTimeMs, endTimeMs, limit: 0 });
      expect(error?.code, `${startTimeMs}..${endTimeMs}`).toBe(status.INVALID_ARGUMENT);
    }
  });

  it('StreamCandles takes since_open_time_ms past 2^53 as "after everything" and refuses negative ones', async () => {
    const { hub, edge } = await start();
    const client = newClient(edge.port);
    for (const since of [INT64_MAX, 2n ** 53n + 1n]) {
      const call = client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: since, closedOnly: false });
      const got: unknown[] = [];
      call.on('data', (c: unknown) => got.push(c));
      let ended: ServiceError | null = null;
      call.on('error', (e: ServiceError) => {
        ended = e;
      });
      await until(() => edge.openStreams === 1);
      // A witness on the same connection, subscribed after it: the server writes to the first call
      // before the witness, so once the witness has the live candle the first call has had its chance.
      const witness = client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: 0n, closedOnly: true });
      const seen = firstOf(witness);
      await until(() => edge.openStreams === 2);
      hub.publishCandle(
        STREAM,
        testCandle({ openTimeMs: T0 + 180_000, closed: false, eventTimeMs: T0 + 180_001 }),
      );
      hub.publishCandle(STREAM, testCandle({ openTimeMs: T0 + 180_000 }));
      const { data, error } = await seen;
      expect(error).toBeNull();
      expect(fromInt64((data as marketDataProto.Candle).openTimeMs, 'open_time_ms')).toBe(T0 + 180_000);
      // Accepted and open, and nothing at or before its point: no replay, no live candle, open or closed.
      expect(ended).toBeNull();
      expect(got).toEqual([]);
      call.cancel();
      witness.cancel();
      await until(() => edge.openStreams === 0);
    }
    const negative = await firstOf(
      client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: INT64_MIN, closedOnly: true }),
    );
    expect(negative.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(negative.error?.details).toBe('since_open_time_ms must be >= 0');
  });
});

describe('gRPC request limits (issue 10, item 1)', () => {
  it(`refuses a request larger than ${MAX_REQUEST_BYTES} bytes with RESOURCE_EXHAUSTED before decoding it`, async () => {
    const { edge } = await start();
    // The request: one stream named 180 000 times, 3.2 MB.
    const { first } = rawStream(
      edge.port,
      '/visualgo.v1.MarketData/StreamCandles',
      namesRequest(STREAM, 180_000),
    );
    const { error } = await first;
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error?.details).toMatch(/larger than max/);
    expect(edge.openStreams).toBe(0);
  });

  it(`refuses more than ${MAX_STREAM_NAMES_PER_REQUEST} stream names with INVALID_ARGUMENT`, async () => {
    const { edge } = await start();
    const body = namesRequest(STREAM, MAX_STREAM_NAMES_PER_REQUEST + 1);
    expect(body.length).toBeLessThan(MAX_REQUEST_BYTES);
    const { error } = await rawStream(edge.port, '/visualgo.v1.MarketData/StreamCandles', body).first;
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toBe(`a request may name at most ${MAX_STREAM_NAMES_PER_REQUEST} streams`);
    const trades = await rawStream(
      edge.port,
      '/visualgo.v1.MarketData/StreamTrades',
      namesRequest('btcusdt@trade', MAX_STREAM_NAMES_PER_REQUEST + 1),
    ).first;
    expect(trades.error?.code).toBe(status.INVALID_ARGUMENT);
  });

  it('serves a request naming one stream many times as one subscription: each candle once', async () => {
    const { hub, edge } = await start();
    const client = newClient(edge.port);
    const call = client.streamCandles({
      streams: Array(MAX_STREAM_NAMES_PER_REQUEST).fill(STREAM),
      sinceOpenTimeMs: BigInt(T0),
      closedOnly: true,
    });
    const got: number[] = [];
    call.on('data', (c: marketDataProto.Candle) => got.push(fromInt64(c.openTimeMs, 'open_time_ms')));
    call.on('error', () => {});
    await until(() => edge.openStreams === 1);
    hub.publishCandle(STREAM, testCandle({ openTimeMs: T0 + 180_000 }));
    await until(() => got.length >= 3);
    call.cancel();
    expect(got).toEqual([T0 + 60_000, T0 + 120_000, T0 + 180_000]);
  });

  it('answers malformed request bytes with INVALID_ARGUMENT, not INTERNAL', async () => {
    const { edge } = await start();
    // Field 1 declared 255 bytes long with 1 byte present; then a field with wire type 7.
    for (const body of [Buffer.from([0x0a, 0xff, 0x01, 0x61]), Buffer.from([0x0f]), Buffer.from([0x10])]) {
      for (const path of [
        '/visualgo.v1.MarketData/StreamCandles',
        '/visualgo.v1.MarketData/StreamTrades',
        '/visualgo.v1.MarketData/StreamFeedStatus',
        '/KlineService/StreamKlines',
      ]) {
        const { error } = await rawStream(edge.port, path, body).first;
        expect(error?.code, `${path} ${body.toString('hex')}`).toBe(status.INVALID_ARGUMENT);
        expect(error?.details).toMatch(/^malformed /);
      }
    }
    const raw = new Client(`127.0.0.1:${edge.port}`, credentials.createInsecure());
    clients.push(raw);
    for (const path of ['/visualgo.v1.MarketData/GetCandles', '/visualgo.v1.MarketData/ListStreams']) {
      const error = await new Promise<ServiceError | null>((resolve) =>
        raw.makeUnaryRequest(path, identity, identity, Buffer.from([0x0f]), (e) => resolve(e)),
      );
      expect(error?.code, path).toBe(status.INVALID_ARGUMENT);
    }
  });
});

describe('gRPC errors that echo input (issue 10, item 3)', () => {
  it('truncates a 10 000-character stream name in the status message', async () => {
    const { edge } = await start();
    const client = newClient(edge.port);
    const { error } = await getCandles(client, {
      stream: 'a'.repeat(10_000),
      startTimeMs: 0n,
      endTimeMs: 0n,
      limit: 0,
    });
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toBe(
      `unknown kline stream "${'a'.repeat(64)}…(9936 more chars)"; this server serves: ${STREAM} (ListStreams lists them all)`,
    );
    const streamed = await firstOf(
      client.streamCandles({ streams: [STREAM, 'b'.repeat(5_000)], sinceOpenTimeMs: 0n, closedOnly: true }),
    );
    expect(streamed.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(streamed.error?.details.length).toBeLessThanOrEqual(512);
  });

  it('bounds the list of served streams in the message', async () => {
    const many = Array.from({ length: 500 }, (_, i) => `sym${i}usdt@kline_1m`);
    const hub = new FakeIngest(many);
    hub.ready = true;
    registry = new Registry();
    edge = await startGrpcEdge({
      bus: hub.bus,
      view: hub,
      logger: pino({ level: 'silent' }),
      metrics: registry,
      host: '127.0.0.1',
      port: 0,
    });
    const client = newClient(edge.port);
    const { error } = await getCandles(client, {
      stream: 'nope@kline_1m',
      startTimeMs: 0n,
      endTimeMs: 0n,
      limit: 0,
    });
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/and \d+ more \(ListStreams lists them all\)$/);
    expect(error?.details.length).toBeLessThanOrEqual(512);
  });
});

describe('gRPC per-address limits (issue 10, item 6)', () => {
  it('refuses streaming calls past the per-address cap with RESOURCE_EXHAUSTED, counts them, and admits again', async () => {
    const { edge } = await start({ maxStreamsPerAddress: 2 });
    const client = newClient(edge.port);
    const a = client.streamCandles({ streams: [], sinceOpenTimeMs: 0n, closedOnly: true });
    const b = client.streamTrades({ streams: [] });
    for (const c of [a, b]) c.on('error', () => {});
    await until(() => edge.openStreams === 2);
    const third = await firstOf(client.streamFeedStatus({}));
    expect(third.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(third.error?.details).toBe(
      'too many open streams from 127.0.0.1 (at most 2 per address); retry later',
    );
    expect(await metric('ingest_grpc_refused_total', 'reason="streams_per_address"')).toBe(1);
    a.cancel();
    await until(() => edge.openStreams === 1);
    const again = await firstOf(client.streamFeedStatus({}));
    expect(again.error).toBeNull();
    b.cancel();
  });

  it('refuses connections past the per-address cap and counts them; the admitted one keeps working', async () => {
    const { edge } = await start({ maxConnectionsPerAddress: 1 });
    const first = newClient(edge.port);
    const ok = await new Promise<ServiceError | null>((resolve) => first.listStreams({}, (e) => resolve(e)));
    expect(ok).toBeNull();
    const second = newClient(edge.port);
    const refused = await new Promise<ServiceError | null>((resolve) =>
      second.listStreams({}, new Metadata(), { deadline: Date.now() + 3_000 }, (e) => resolve(e)),
    );
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(refused?.code);
    expect(
      await metric('ingest_grpc_refused_total', 'reason="connections_per_address"'),
    ).toBeGreaterThanOrEqual(1);
    const stillOk = await new Promise<ServiceError | null>((resolve) =>
      first.listStreams({}, (e) => resolve(e)),
    );
    expect(stillOk).toBeNull();
  });

  it('counts refusals for the service-wide stream cap too', async () => {
    const { edge } = await start({ maxStreams: 1 });
    const client = newClient(edge.port);
    const a = client.streamTrades({ streams: [] });
    a.on('error', () => {});
    await until(() => edge.openStreams === 1);
    const refused = await firstOf(client.streamTrades({ streams: [] }));
    expect(refused.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(await metric('ingest_grpc_refused_total', 'reason="streams"')).toBe(1);
    a.cancel();
  });
});

describe('gRPC bearer token (AUTH_TOKEN)', () => {
  it('answers calls without the token UNAUTHENTICATED, except health, and counts them', async () => {
    const token = 'grpc-token-0123456789';
    const { edge } = await start({ auth: new BearerAuth(token) });
    const client = newClient(edge.port);
    const listed = (md: Metadata) =>
      new Promise<ServiceError | null>((resolve) => client.listStreams({}, md, (e) => resolve(e)));
    expect((await listed(new Metadata()))?.code).toBe(status.UNAUTHENTICATED);
    const wrong = new Metadata();
    wrong.set('authorization', 'Bearer not-the-token-000');
    expect((await listed(wrong))?.code).toBe(status.UNAUTHENTICATED);
    const right = new Metadata();
    right.set('authorization', `Bearer ${token}`);
    expect(await listed(right)).toBeNull();
    const streamed = await firstOf(client.streamFeedStatus({}));
    expect(streamed.error?.code).toBe(status.UNAUTHENTICATED);
    expect(streamed.error?.details).not.toContain(token);
    expect(await metric('ingest_grpc_refused_total', 'reason="unauthenticated"')).toBe(3);
    // Health needs no token: orchestrators probe it.
    const raw = new Client(`127.0.0.1:${edge.port}`, credentials.createInsecure());
    clients.push(raw);
    const health = await new Promise<ServiceError | null>((resolve) =>
      raw.makeUnaryRequest('/grpc.health.v1.Health/Check', identity, identity, Buffer.alloc(0), (e) =>
        resolve(e),
      ),
    );
    expect(health).toBeNull();
  });
});

describe('gRPC health (mutation: health never leaving SERVING)', () => {
  /** grpc.health.v1.Health/Check for `service`, hand-encoded: 1 SERVING, 2 NOT_SERVING. */
  async function healthOf(port: number, service: string): Promise<number> {
    const raw = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    clients.push(raw);
    const name = Buffer.from(service);
    const request = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
    const reply = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest('/grpc.health.v1.Health/Check', identity, identity, request, (e, r) =>
        e || !r ? reject(e) : resolve(r),
      ),
    );
    // HealthCheckResponse { ServingStatus status = 1 }; an empty message is UNKNOWN (0).
    return reply.length === 0 ? 0 : (reply[1] ?? 0);
  }

  it('goes NOT_SERVING when the service stops being ready, and SERVING again when it is', async () => {
    const { edge } = await start();
    for (const service of ['', 'visualgo.v1.MarketData', 'KlineService']) {
      expect(await healthOf(edge.port, service)).toBe(1);
    }
    edge.setServing(false);
    for (const service of ['', 'visualgo.v1.MarketData', 'KlineService']) {
      expect(await healthOf(edge.port, service)).toBe(2);
    }
    edge.setServing(true);
    expect(await healthOf(edge.port, '')).toBe(1);
  });
});
