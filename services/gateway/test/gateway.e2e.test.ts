/**
 * A gateway in front of a NATS cluster (data-ingest and a trading-algo worker publishing the
 * simulated exchange): it takes from NATS only the streams its clients want, each once however
 * many clients want it, lets them go when the last client leaves, and serves what the cluster
 * stores (klines, indicator points) and relays (live candles, indicators) through the same
 * endpoints as data-ingest and trading-algo.
 */
import { credentials } from '@grpc/grpc-js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { candleEvent, partitionOf } from '@visualgo/bus';
import { KlineHistory, MarketRegistry, NatsBus } from '@visualgo/bus/nats';
import { candleFromProto, marketDataProto } from '@visualgo/contracts';
import { type IngestService, ingestConfigSchema, startIngestService } from '@visualgo/data-ingest';
import { createLogger, createMetrics, loadConfig, Shutdown } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { TestNatsServer, testCandle, waitFor } from '@visualgo/testing';
import { algoConfigSchema, PointsLog, startTradingAlgo, type TradingAlgo } from '@visualgo/trading-algo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { gatewayConfigSchema } from '../src/config.js';
import { type Gateway, startGateway } from '../src/gateway-service.js';

const logger = createLogger({ name: 'gateway-test', level: 'silent' });
let nats: TestNatsServer;
let sim: SimExchange;
let ingest: IngestService;
let algo: TradingAlgo;
const algoShutdown = new Shutdown(logger);
let gateway: Gateway;

beforeAll(async () => {
  nats = await TestNatsServer.start();
  sim = await startSimExchange({
    port: 0,
    speed: 300,
    startMs: Date.UTC(2024, 2, 4, 12),
    symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
    historyDays: 2,
  });
  ingest = await startIngestService(
    loadConfig(ingestConfigSchema, {
      MARKET_SOURCE: 'sim',
      SIM_URL: sim.httpUrl,
      SYMBOLS: 'btcusdt,ethusdt,solusdt',
      INTERVALS: '1m',
      HISTORY_CANDLES: '1500',
      INGEST_HOST: '127.0.0.1',
      INGEST_GRPC_PORT: '0',
      INGEST_HTTP_PORT: '0',
      NATS_URL: nats.url,
      LOG_LEVEL: 'silent',
    }),
    logger,
  );
  await ingest.ready;
  algo = await startTradingAlgo(
    loadConfig(algoConfigSchema, {
      NATS_URL: nats.url,
      MARKET_SOURCE: 'sim',
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: '0',
      HISTORY_POINTS: '200',
      SNAPSHOT_POINTS: '100',
      LOG_LEVEL: 'silent',
    }),
    { logger, registry: createMetrics('trading-algo'), shutdown: algoShutdown },
  );
  await waitFor('the worker ready', () => algo.feed.isReady, 60_000);
  gateway = await startGateway(
    loadConfig(gatewayConfigSchema, {
      NATS_URL: nats.url,
      GATEWAY_NAME: 'gateway-under-test',
      MARKET_SOURCE: 'sim',
      SIM_URL: sim.httpUrl,
      GATEWAY_HOST: '127.0.0.1',
      INGEST_HTTP_PORT: '0',
      INGEST_GRPC_PORT: '0',
      ALGO_HTTP_PORT: '0',
      SNAPSHOT_POINTS: '100',
      HISTORY_POINTS: '200',
      LOG_LEVEL: 'silent',
    }),
    logger,
  );
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await algoShutdown.run('test done');
  await ingest?.close();
  await sim?.close();
  await nats?.stop();
});

/** The market-data and indicator subjects the server sees this gateway subscribed to. */
async function interest(): Promise<string[]> {
  await gateway.bus.connection.flush();
  const subjects = (await nats.subscriptions()).get('gateway-under-test') ?? [];
  return subjects.filter((s) => s.startsWith('md.') || s.startsWith('algo.'));
}

function ws(url: string): Promise<{ socket: WebSocket; messages: unknown[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const messages: unknown[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    socket.once('open', () => resolve({ socket, messages }));
    socket.once('error', reject);
  });
}

async function closed(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  await new Promise((resolve) => {
    socket.once('close', resolve);
    socket.close();
  });
}

describe('gateway', () => {
  it('takes from NATS only the streams its clients want, once each, and lets go after the last', async () => {
    // Nothing but the feed-wide status before any client.
    expect(await interest()).toEqual(['md.binance-sim.status.-.-.0']);

    const base = `ws://127.0.0.1:${gateway.ingestHttpPort}`;
    const a = await ws(`${base}/ws/btcusdt@kline_1m`);
    const b = await ws(`${base}/stream?streams=btcusdt@kline_1m`);
    await waitFor('candles to both clients', () => a.messages.length > 0 && b.messages.length > 0, 10_000);
    const btc = 'md.binance-sim.candle.1m.BTCUSDT.44';
    expect(await interest()).toEqual([btc, 'md.binance-sim.status.-.-.0']);

    // A gRPC client of another stream adds that stream, once.
    const client = new marketDataProto.MarketDataClient(
      `127.0.0.1:${gateway.grpcPort}`,
      credentials.createInsecure(),
    );
    const call = client.streamCandles({
      streams: ['ethusdt@kline_1m'],
      sinceOpenTimeMs: 0n,
      closedOnly: true,
    });
    const grpcCandles: number[] = [];
    call.on('data', (c: marketDataProto.Candle) => grpcCandles.push(candleFromProto(c).openTimeMs));
    call.on('error', () => {});
    await waitFor('a closed ETHUSDT candle over gRPC', () => grpcCandles.length >= 2, 10_000);
    expect(await interest()).toEqual([
      btc,
      'md.binance-sim.candle.1m.ETHUSDT.48',
      'md.binance-sim.status.-.-.0',
    ]);

    // Indicators: a browser on one stream makes the gateway follow that stream's output only.
    const algoClient = await ws(`ws://127.0.0.1:${gateway.algoHttpPort}/ws?streams=solusdt@kline_1m`);
    await waitFor(
      'a snapshot with points, then live indicators',
      () =>
        algoClient.messages.some(
          (m) =>
            (m as { type: string; points?: unknown[] }).type === 'snapshot' &&
            (m as { points: unknown[] }).points.length > 0,
        ) && algoClient.messages.some((m) => (m as { type: string }).type === 'indicator'),
      15_000,
    );
    expect(await interest()).toContain('algo.binance-sim.live.1m.SOLUSDT.61');

    // Everyone leaves: the gateway lets go of every stream.
    await closed(a.socket);
    expect(await interest()).toContain(btc);
    await closed(b.socket);
    call.cancel();
    client.close();
    await closed(algoClient.socket);
    await waitFor('interest released', () => gateway.bus.liveStreams.length <= 1, 5_000);
    expect(await interest()).toEqual(['md.binance-sim.status.-.-.0']);
  }, 60_000);

  it('serves a firehose client the streams listed after it connected, without reconnecting', async () => {
    const firehose = await ws(`ws://127.0.0.1:${gateway.ingestHttpPort}/ws`);
    const xrp = `md.binance-sim.candle.1m.XRPUSDT.${partitionOf('XRPUSDT')}`;
    expect(await interest()).not.toContain(xrp);
    // A new stream appears in the cluster: listed in the registry, then produced.
    const registry = await MarketRegistry.open(gateway.bus.connection);
    await registry.registerStreams('binance-sim', [{ kind: 'kline', symbol: 'XRPUSDT', interval: '1m' }]);
    await waitFor('the gateway to follow the new stream', () =>
      gateway.bus.liveStreams.includes('xrpusdt@kline_1m'),
    );
    expect(await interest()).toContain(xrp);
    const producer = await NatsBus.connect(
      { servers: nats.url, name: 'new-producer' },
      { venue: 'binance-sim' },
    );
    try {
      const openTimeMs = Date.UTC(2024, 2, 4, 12);
      producer.publish(
        candleEvent(
          'xrpusdt@kline_1m',
          testCandle({ symbol: 'XRPUSDT', openTimeMs, closed: false, eventTimeMs: openTimeMs + 1_000 }),
        ),
      );
      await producer.flush();
      await waitFor('the new stream on the firehose', () =>
        firehose.messages.some((m) => (m as { s?: string }).s === 'XRPUSDT'),
      );
    } finally {
      await producer.close();
      await closed(firehose.socket);
    }
  });

  it('serves klines and indicator points from the cluster stores', async () => {
    const js = jetstream(gateway.bus.connection);
    const jsm = await jetstreamManager(gateway.bus.connection);
    const stored = await new KlineHistory(js, jsm, { venue: 'binance-sim' }).range('btcusdt@kline_1m', {
      limit: 5,
      fromEnd: true,
    });
    const last = stored.at(-1)?.openTimeMs as number;
    const url = `http://127.0.0.1:${gateway.ingestHttpPort}/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime=${last}&limit=5`;
    // The gateway answers 503 -1001 ("retry shortly") until a data-ingest has reported its history
    // loaded (reports come every few seconds); a client retries, and so does this one.
    let answer = await fetch(url);
    let text = await answer.text();
    for (const deadline = Date.now() + 20_000; answer.status === 503 && text.includes('-1001'); ) {
      if (Date.now() > deadline) throw new Error('the gateway still says history is loading after 20 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await fetch(url);
      text = await answer.text();
    }
    // Any other refusal fails here with the gateway's own answer, not later on its shape.
    expect(answer.status, text).toBe(200);
    const klines = JSON.parse(text) as unknown[][];
    expect(klines.map((row) => row[0])).toEqual(stored.map((c) => c.openTimeMs));
    expect(klines.map((row) => Number(row[4]))).toEqual(stored.map((c) => c.close));

    // Within what the store keeps: Binance's answer, nothing more.
    const within = await fetch(
      `http://127.0.0.1:${gateway.ingestHttpPort}/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime=${last}&limit=5`,
    );
    expect(within.headers.get('x-history-partial')).toBeNull();
    // Further back than the store keeps: the rows it has, and headers that say where they start.
    const oldest = (await new KlineHistory(js, jsm, { venue: 'binance-sim' }).oldest('btcusdt@kline_1m'))
      ?.candle.openTimeMs as number;
    const deep = await fetch(
      `http://127.0.0.1:${gateway.ingestHttpPort}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=${oldest - 3_600_000}&limit=5`,
    );
    expect(deep.headers.get('x-history-partial')).toBe('true');
    expect(deep.headers.get('x-history-oldest-open-time')).toBe(String(oldest));
    expect(((await deep.json()) as unknown[][])[0]?.[0]).toBe(oldest);

    const points = await new PointsLog(js, jsm, 'binance-sim').last('solusdt@kline_1m', 3);
    const end = points.at(-1)?.openTimeMs as number;
    const body = (await (
      await fetch(
        `http://127.0.0.1:${gateway.algoHttpPort}/api/indicators?stream=solusdt@kline_1m&limit=3&endTimeMs=${end}`,
      )
    ).json()) as { points: { openTimeMs: number; ema: number }[] };
    expect(body.points.map((p) => [p.openTimeMs, p.ema])).toEqual(points.map((p) => [p.openTimeMs, p.ema]));
  });
});
