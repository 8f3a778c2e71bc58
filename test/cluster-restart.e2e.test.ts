/**
 * nats-server restarts under the whole cluster at work: data-ingest publishing (its outbox waits
 * and stores what it could not), a trading-algo worker consuming through its durable consumer,
 * and a gateway with a WebSocket client and its registry watches. Afterwards every closed candle
 * is stored once, every indicator point once and equal to one process's computation, the client
 * has had every closed candle once and in order, and the watches still see what changes.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { KlineHistory, MarketRegistry } from '@visualgo/bus/nats';
import { type IngestService, ingestConfigSchema, startIngestService } from '@visualgo/data-ingest';
import { type Gateway, gatewayConfigSchema, startGateway } from '@visualgo/gateway';
import { candleIndexOf } from '@visualgo/market';
import { createLogger, createMetrics, loadConfig, Shutdown } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { TestNatsServer, waitFor } from '@visualgo/testing';
import { algoConfigSchema, PointsLog, startTradingAlgo, type TradingAlgo } from '@visualgo/trading-algo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const logger = createLogger({ name: 'cluster-restart-test', level: 'silent' });
const STREAM = 'btcusdt@kline_1m';
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
    symbols: ['BTCUSDT'],
    historyDays: 2,
  });
  ingest = await startIngestService(
    loadConfig(ingestConfigSchema, {
      MARKET_SOURCE: 'sim',
      SIM_URL: sim.httpUrl,
      SYMBOLS: 'btcusdt',
      INTERVALS: '1m',
      TRADES: 'false',
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
      HISTORY_POINTS: '300',
      SNAPSHOT_POINTS: '100',
      ALGO_SNAPSHOT_MS: '500',
      LOG_LEVEL: 'silent',
    }),
    { logger, registry: createMetrics('trading-algo'), shutdown: algoShutdown },
  );
  await waitFor('the worker ready', () => algo.feed.isReady, 60_000);
  gateway = await startGateway(
    loadConfig(gatewayConfigSchema, {
      NATS_URL: nats.url,
      MARKET_SOURCE: 'sim',
      SIM_URL: sim.httpUrl,
      GATEWAY_HOST: '127.0.0.1',
      INGEST_HTTP_PORT: '0',
      INGEST_GRPC_PORT: '0',
      ALGO_HTTP_PORT: '0',
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

const consecutive = (xs: readonly number[]) => xs.every((x, i) => i === 0 || x === (xs[i - 1] as number) + 1);

describe('a nats-server restart under the cluster', () => {
  it('loses and doubles nothing: store, indicator output, a gateway client, the registry watches', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${gateway.ingestHttpPort}/ws/${STREAM}`);
    const closed: number[] = [];
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { k?: { t: number; x: boolean } };
      if (frame.k?.x) closed.push(candleIndexOf('1m', frame.k.t));
    });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    await waitFor('closed candles on the gateway', () => closed.length >= 10, 20_000);

    await nats.restart();
    const atRestart = closed.length;
    await waitFor('candles flowing again', () => closed.length >= atRestart + 20, 60_000);

    // The gateway's client: every closed candle once and in order, across the restart.
    expect(consecutive(closed)).toBe(true);

    // The store: every candle once and in order, and the worker's output over it.
    const js = jetstream(gateway.bus.connection);
    const jsm = await jetstreamManager(gateway.bus.connection);
    const candles = await new KlineHistory(js, jsm, { venue: 'binance-sim' }).range(STREAM, {
      limit: 100_000,
      fromEnd: true,
    });
    expect(consecutive(candles.map((c) => candleIndexOf('1m', c.openTimeMs)))).toBe(true);
    expect(candles.map((c) => candleIndexOf('1m', c.openTimeMs))).toContain(closed.at(-1));
    const points = new PointsLog(js, jsm, 'binance-sim');
    let stored = await points.last(STREAM, 300);
    const lastClosed = candles.at(-1)?.openTimeMs as number;
    for (let i = 0; i < 200 && (stored.at(-1)?.openTimeMs ?? 0) < lastClosed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stored = await points.last(STREAM, 300);
    }
    expect(stored.at(-1)?.openTimeMs).toBeGreaterThanOrEqual(lastClosed);
    expect(consecutive(stored.map((p) => candleIndexOf('1m', p.openTimeMs)))).toBe(true);
    // Each stored point is the one the worker computed from the stored candle (same close).
    const byTime = new Map(candles.map((c) => [c.openTimeMs, c.close]));
    for (const p of stored) if (byTime.has(p.openTimeMs)) expect(p.close).toBe(byTime.get(p.openTimeMs));

    // The registry watches survived: a stream listed now reaches the gateway, and the gateway
    // is ready again on data-ingest's reports.
    const registry = await MarketRegistry.open(gateway.bus.connection);
    await registry.registerStreams('binance-sim', [{ kind: 'kline', symbol: 'NEWUSDT', interval: '1m' }]);
    await waitFor('the new stream on the gateway', () => gateway.view.hasStream('newusdt@kline_1m'), 10_000);
    await waitFor('the gateway ready', () => gateway.view.isReady(), 20_000);
    socket.close();
  }, 150_000);
});
