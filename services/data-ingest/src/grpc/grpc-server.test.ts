import { connect } from 'node:http2';
import { join } from 'node:path';
import {
  Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { LocalBus } from '@visualgo/bus';
import { fromInt64, marketDataProto, type seedProto } from '@visualgo/contracts';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CandleStore } from '../hub/candle-store.js';
import { createIngestHub } from '../hub/create-ingest-hub.js';
import type { HistorySource } from '../hub/history-source.js';
import type { IngestHub } from '../hub/ingest-hub.js';
import { ethCandle, T0 } from '../testing/candles.js';
import { until } from '../ws/ws-test-client.js';
import { type GrpcEdge, startGrpcEdge } from './grpc-server.js';
import { findProtoDir } from './proto-files.js';

const logger = pino({ level: 'silent' });
const STREAM = 'ethusdt@kline_1m';
/** The exchange has candles -3000..2; the hub loads 0..2 at start. */
let exchangeDown = false;
const historyRequests: [number, number][] = [];
const history: HistorySource = {
  latestClosed: async () => [0, 1, 2].map((i) => ethCandle(i, true)),
  closedBetween: async (_d, from, to, _signal, limit) => {
    historyRequests.push([from, to]);
    if (exchangeDown) throw new Error('HTTP 503');
    const out = [];
    for (let i = -3000; i <= 2; i++) {
      const candle = ethCandle(i, true);
      if (candle.openTimeMs >= from && candle.openTimeMs <= to) out.push(candle);
    }
    return limit === undefined ? out : out.slice(0, limit);
  },
  tradesBetween: async () => [],
};

let hub: IngestHub;
let bus: LocalBus;
let store: CandleStore;
let edge: GrpcEdge;
let client: InstanceType<typeof marketDataProto.MarketDataClient>;
let edgeMetrics: Registry;

async function start(maxQueued = 10_000, maxStreams = 1_000) {
  ({ hub, bus, store } = createIngestHub({
    exchange: 'binance-sim',
    streams: [
      { kind: 'kline', symbol: 'ETHUSDT', interval: '1m' },
      { kind: 'trade', symbol: 'ETHUSDT' },
    ],
    historyCandles: 100,
    maxReplayCandles: 2_000,
    history,
    logger,
    metrics: new Registry(),
  }));
  exchangeDown = false;
  historyRequests.length = 0;
  await hub.loadHistory();
  hub.setConnected(true);
  edgeMetrics = new Registry();
  edge = await startGrpcEdge({
    bus,
    view: hub,
    logger,
    metrics: edgeMetrics,
    host: '127.0.0.1',
    port: 0,
    maxQueued,
    maxStreams,
  });
  edge.setServing(true);
  client = new marketDataProto.MarketDataClient(`127.0.0.1:${edge.port}`, credentials.createInsecure());
}

afterEach(async () => {
  client?.close();
  await edge?.close(500);
  await hub?.stop();
});

/** Collects messages until `n` arrived or the stream ends. */
function collect<T>(
  stream: NodeJS.ReadableStream,
  n: number,
): Promise<{ items: T[]; error: ServiceError | null }> {
  return new Promise((resolve) => {
    const items: T[] = [];
    stream.on('data', (m: T) => {
      items.push(m);
      if (items.length === n) resolve({ items, error: null });
    });
    stream.on('error', (error: ServiceError) => resolve({ items, error }));
    stream.on('end', () => resolve({ items, error: null }));
  });
}
const openTime = (c: marketDataProto.Candle) => fromInt64(c.openTimeMs, 'open_time_ms');
/** Waits until `n` calls subscribe to the bus: from then on nothing published is missed. */
async function waitForListeners(n: number): Promise<void> {
  const started = Date.now();
  while (bus.subscriberCount < n) {
    if (Date.now() - started > 5_000) throw new Error(`${n} bus subscribers did not appear`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('gRPC MarketData', () => {
  beforeEach(() => start());

  it('replays closed candles after since_open_time_ms, then goes live with no gap or duplicate', async () => {
    const call = client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: BigInt(T0), closedOnly: true });
    const got = collect<marketDataProto.Candle>(call, 4);
    await waitForListeners(1);
    hub.ingestCandle(STREAM, ethCandle(2, true)); // duplicate of history: dropped by the hub
    hub.ingestCandle(STREAM, ethCandle(3, false));
    hub.ingestCandle(STREAM, ethCandle(3, true));
    hub.ingestCandle(STREAM, ethCandle(4, true));
    const { items, error } = await got;
    call.cancel();
    expect(error).toBeNull();
    expect(items.map((c) => (openTime(c) - T0) / 60_000)).toEqual([1, 2, 3, 4]);
    expect(items.every((c) => c.closed && c.stream === STREAM && c.exchange === 'binance-sim')).toBe(true);
  });

  it('replays a resume point older than the history held from the exchange, then continues live', async () => {
    // Three candles before the held ones: fetched once, then held.
    const near = client.streamCandles({
      streams: [STREAM],
      sinceOpenTimeMs: BigInt(T0 - 240_000),
      closedOnly: true,
    });
    const got = await collect<marketDataProto.Candle>(near, 5);
    near.cancel();
    expect(got.error).toBeNull();
    expect(got.items.map((c) => (openTime(c) - T0) / 60_000)).toEqual([-3, -2, -1, 0, 1]);
    expect(store.stream(STREAM)?.book.coveredFromMs).toBe(T0 - 180_000);
    // 1,500 candles back: more than the book has room for, served from two exchange pages.
    const far = client.streamCandles({
      streams: [STREAM],
      sinceOpenTimeMs: BigInt(T0 - 1_501 * 60_000),
      closedOnly: true,
    });
    const farGot = collect<marketDataProto.Candle>(far, 1_504);
    await waitForListeners(1);
    hub.ingestCandle(STREAM, ethCandle(3, true));
    const { items, error } = await farGot;
    expect(error).toBeNull();
    expect(items.map((c) => (openTime(c) - T0) / 60_000)).toEqual(
      Array.from({ length: 1_503 }, (_, k) => k - 1_500).concat([3]),
    );
    far.cancel();
  });

  it('refuses a resume point beyond the replay limit, and answers UNAVAILABLE while the exchange fails', async () => {
    const tooOld = await collect(
      client.streamCandles({
        streams: [STREAM],
        sinceOpenTimeMs: BigInt(T0 - 2_500 * 60_000),
        closedOnly: true,
      }),
      1,
    );
    expect(tooOld.error?.code).toBe(status.OUT_OF_RANGE);
    expect(tooOld.error?.details).toContain('at most 2000 are replayed from the exchange');
    exchangeDown = true;
    const down = await collect(
      client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: BigInt(T0 - 600_000), closedOnly: true }),
      1,
    );
    expect(down.error?.code).toBe(status.UNAVAILABLE);
    expect(down.error?.details).toContain('the exchange did not serve the history');
    // What is held is still served without the exchange.
    const held = await collect<marketDataProto.Candle>(
      client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: BigInt(T0 - 60_000), closedOnly: true }),
      3,
    );
    expect(held.items.map(openTime)).toEqual([T0, T0 + 60_000, T0 + 120_000]);
  });

  it('sends every update to each of two concurrent clients, encoding each once', async () => {
    const a = client.streamCandles({ streams: [], sinceOpenTimeMs: 0n, closedOnly: false });
    const b = client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: 0n, closedOnly: false });
    const ga = collect<marketDataProto.Candle>(a, 20);
    const gb = collect<marketDataProto.Candle>(b, 20);
    await waitForListeners(2);
    const encode = vi.spyOn(marketDataProto.Candle, 'encode');
    try {
      for (let i = 3; i < 13; i++) {
        hub.ingestCandle(STREAM, ethCandle(i, false));
        hub.ingestCandle(STREAM, ethCandle(i, true));
      }
      await Promise.all([ga, gb]);
      // 20 events for two calls: one encoding each.
      expect(encode).toHaveBeenCalledTimes(20);
    } finally {
      encode.mockRestore();
    }
    const [ra, rb] = await Promise.all([ga, gb]);
    a.cancel();
    b.cancel();
    const key = (c: marketDataProto.Candle) => `${openTime(c)}:${c.closed}`;
    expect(ra.items.map(key)).toEqual(rb.items.map(key));
    expect(ra.items).toHaveLength(20);
  });

  it('answers bad arguments with INVALID_ARGUMENT and a clear message', async () => {
    const bad = await collect(
      client.streamCandles({ streams: ['btcusdt@kline_7m'], sinceOpenTimeMs: 0n, closedOnly: false }),
      1,
    );
    expect(bad.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.error?.details).toContain('unknown kline stream "btcusdt@kline_7m"');
    expect(bad.error?.details).toContain(STREAM);
    const err = await new Promise<ServiceError | null>((resolve) =>
      client.getCandles(
        { stream: STREAM, startTimeMs: 0n, endTimeMs: 0n, limit: 5000, heldOnly: false },
        (e) => resolve(e),
      ),
    );
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toContain('limit');
  });

  it('serves history with GetCandles and the stream list with ListStreams', async () => {
    const res = await new Promise<marketDataProto.GetCandlesResponse>((resolve, reject) =>
      client.getCandles(
        { stream: STREAM, startTimeMs: BigInt(T0 + 60_000), endTimeMs: 0n, limit: 0, heldOnly: false },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    expect(res.candles.map(openTime)).toEqual([T0 + 60_000, T0 + 120_000]);
    const list = await new Promise<marketDataProto.ListStreamsResponse>((resolve, reject) =>
      client.listStreams({}, (e, r) => (e ? reject(e) : resolve(r))),
    );
    expect(list.streams.map((s) => s.stream)).toEqual([STREAM, 'ethusdt@trade']);
  });

  it('ends streams with UNAVAILABLE on shutdown', async () => {
    const call = client.streamCandles({ streams: [], sinceOpenTimeMs: 0n, closedOnly: true });
    const got = collect(call, 1_000);
    await waitForListeners(1);
    await edge.close(1_000);
    const { error } = await got;
    expect(error?.code).toBe(status.UNAVAILABLE);
  });
});

describe('gRPC while history is loading', () => {
  it('answers resumes and history requests with UNAVAILABLE until the history is loaded', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    ({ hub, bus, store } = createIngestHub({
      exchange: 'binance-sim',
      streams: [{ kind: 'kline', symbol: 'ETHUSDT', interval: '1m' }],
      historyCandles: 100,
      history: {
        latestClosed: async () => {
          await gate;
          return [0, 1, 2].map((i) => ethCandle(i, true));
        },
        closedBetween: async () => [],
        tradesBetween: async () => [],
      },
      logger,
      metrics: new Registry(),
    }));
    const loading = hub.loadHistory();
    edge = await startGrpcEdge({
      bus,
      view: hub,
      logger,
      metrics: new Registry(),
      host: '127.0.0.1',
      port: 0,
    });
    client = new marketDataProto.MarketDataClient(`127.0.0.1:${edge.port}`, credentials.createInsecure());
    const resumed = await collect(
      client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: BigInt(T0), closedOnly: true }),
      1,
    );
    expect(resumed.error?.code).toBe(status.UNAVAILABLE);
    const got = await new Promise<ServiceError | null>((resolve) =>
      client.getCandles({ stream: STREAM, startTimeMs: 0n, endTimeMs: 0n, limit: 0, heldOnly: false }, (e) =>
        resolve(e),
      ),
    );
    expect(got?.code).toBe(status.UNAVAILABLE);
    // A live-only subscriber is served, and does not receive the backfill as live candles.
    const live = client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: 0n, closedOnly: true });
    const liveGot = collect<marketDataProto.Candle>(live, 1);
    await waitForListeners(1);
    release();
    await loading;
    hub.ingestCandle(STREAM, ethCandle(3, true));
    const { items } = await liveGot;
    live.cancel();
    expect(items.map(openTime)).toEqual([T0 + 3 * 60_000]);
  });
});

describe('gRPC stream limit', () => {
  beforeEach(() => start(10_000, 2));

  it('refuses streams past GRPC_MAX_STREAMS with RESOURCE_EXHAUSTED, and admits again when one ends', async () => {
    const a = client.streamCandles({ streams: [], sinceOpenTimeMs: 0n, closedOnly: true });
    const b = client.streamTrades({ streams: [] });
    for (const c of [a, b]) c.on('error', () => {});
    await waitForListeners(2);
    const third = await collect(client.streamFeedStatus({}), 1);
    expect(third.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(third.error?.details).toContain('at most 2');
    a.cancel();
    await until(() => bus.subscriberCount === 1 && edge.openStreams === 1);
    const again = client.streamFeedStatus({});
    const { items, error } = await collect<marketDataProto.FeedStatus>(again, 1);
    again.cancel();
    b.cancel();
    expect(error).toBeNull();
    expect(items).toHaveLength(1);
  });
});

describe('gRPC slow consumers', () => {
  beforeEach(() => start(50));

  it('cuts off a client that stops reading with RESOURCE_EXHAUSTED while a fast client gets everything', async () => {
    // A raw HTTP/2 gRPC client with a 1 KiB stream window that never reads: the server can
    // only send that much before backpressure reaches the subscriber queue.
    const session = connect(`http://127.0.0.1:${edge.port}`, { settings: { initialWindowSize: 1024 } });
    const body = marketDataProto.StreamCandlesRequest.encode({
      streams: [],
      sinceOpenTimeMs: 0n,
      closedOnly: true,
    }).finish();
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
    const slow = session.request({
      ':method': 'POST',
      ':path': '/visualgo.v1.MarketData/StreamCandles',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    slow.end(frame);
    const slowStatus = new Promise<string | undefined>((resolve) => {
      slow.on('trailers', (trailers) => resolve(String(trailers['grpc-status'])));
      slow.on('response', (headers) => {
        if (headers['grpc-status'] !== undefined) resolve(String(headers['grpc-status']));
      });
      slow.on('close', () => resolve(undefined));
    });
    slow.pause();
    const fast = client.streamCandles({ streams: [], sinceOpenTimeMs: 0n, closedOnly: true });
    // Paced like a busy market (a few thousand events a second), not a tight loop.
    const N = 2_000;
    const fastGot = collect<marketDataProto.Candle>(fast, N);
    await waitForListeners(2);
    for (let i = 3; i < 3 + N; i++) {
      hub.ingestCandle(STREAM, ethCandle(i, true));
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const { items, error: fastError } = await fastGot;
    expect(fastError).toBeNull();
    expect(items).toHaveLength(N);
    slow.resume();
    slow.on('data', () => {});
    expect(await slowStatus).toBe(String(status.RESOURCE_EXHAUSTED));
    expect(await edgeMetrics.getSingleMetricAsString('ingest_grpc_slow_consumers_total')).toContain(
      'ingest_grpc_slow_consumers_total{method="StreamCandles"} 1',
    );
    fast.cancel();
    session.close();
  });
});

describe('seed KlineService', () => {
  beforeEach(() => start());

  it('serves a client built only from the seed proto', async () => {
    const def = loadSync(join(findProtoDir(), 'trade.proto'), {});
    const pkg = loadPackageDefinition(def);
    const Ctor = pkg.KlineService;
    if (typeof Ctor !== 'function') throw new Error('KlineService missing from trade.proto');
    const seedClient = new Ctor(`127.0.0.1:${edge.port}`, credentials.createInsecure());
    const streamKlines = seedClient.StreamKlines;
    if (!streamKlines) throw new Error('StreamKlines missing from KlineService');
    const call = streamKlines.call(seedClient, { message: 'hello' }, new Metadata());
    const got = collect<seedProto.KlineData & { openTime: unknown }>(call, 2);
    await waitForListeners(1);
    hub.ingestCandle(STREAM, ethCandle(3, false));
    hub.ingestCandle(STREAM, ethCandle(3, true));
    const { items } = await got;
    call.cancel();
    seedClient.close();
    expect(items).toHaveLength(2);
    expect(items[1]).toMatchObject({
      symbol: 'ETHUSDT',
      openPrice: 2003,
      closePrice: 2003.5,
      isKlineClosed: true,
      numTrades: 5,
    });
    // proto-loader returns int64 as Long by default; compare its string form.
    expect(String(items[1]?.openTime)).toBe(String(T0 + 3 * 60_000));
  });
});

describe('gRPC health and reflection', () => {
  beforeEach(() => start());

  const identity = (b: Buffer) => b;

  it('reports SERVING through grpc.health.v1', async () => {
    const raw = new Client(`127.0.0.1:${edge.port}`, credentials.createInsecure());
    const service = Buffer.from('visualgo.v1.MarketData');
    // HealthCheckRequest { string service = 1 }, hand-encoded.
    const request = Buffer.concat([Buffer.from([0x0a, service.length]), service]);
    const reply = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest('/grpc.health.v1.Health/Check', identity, identity, request, (e, r) =>
        e || !r ? reject(e) : resolve(r),
      ),
    );
    raw.close();
    // HealthCheckResponse { status = SERVING (1) }.
    expect(reply).toEqual(Buffer.from([0x08, 0x01]));
  });

  it('lists MarketData and Health through server reflection', async () => {
    const raw = new Client(`127.0.0.1:${edge.port}`, credentials.createInsecure());
    const call = raw.makeBidiStreamRequest(
      '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      identity,
      identity,
    );
    const reply = new Promise<Buffer>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
    });
    // ServerReflectionRequest { list_services = 7: "" }, hand-encoded.
    call.write(Buffer.from([0x3a, 0x00]));
    const text = (await reply).toString('latin1');
    call.end();
    raw.close();
    expect(text).toContain('visualgo.v1.MarketData');
    expect(text).toContain('grpc.health.v1.Health');
  });
});
