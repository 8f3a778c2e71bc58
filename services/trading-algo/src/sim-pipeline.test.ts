/**
 * End to end: the simulated exchange → data-ingest (its real composition root) → trading-algo,
 * with real WebSocket, REST, gRPC and WebSocket hops. Other services' sources are imported by
 * relative path, which only tests may do.
 */
import type { IndicatorMessage } from '@visualgo/contracts';
import { type IngestService, ingestConfigSchema, startIngestService } from '@visualgo/data-ingest';
import { DEFAULT_INDICATOR_CONFIG, IndicatorSet } from '@visualgo/market';
import { loadConfig, Shutdown } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTradingAlgo, type TradingAlgo } from './app.js';
import { loadAlgoConfig } from './config.js';
import { TestWsClient, waitFor } from './testing/ws-client.js';

const STREAM = 'ethusdt@kline_1m';
const logger = pino({ level: 'silent' });

let sim: SimExchange;
let ingest: IngestService | null = null;
let algo: TradingAlgo;
let shutdown: Shutdown;
let client: TestWsClient;

async function startIngest(grpcPort: number): Promise<IngestService> {
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'sim',
    SIM_URL: sim.httpUrl,
    SYMBOLS: 'ethusdt',
    INTERVALS: '1m',
    TRADES: 'false',
    HISTORY_CANDLES: '1000',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: String(grpcPort),
    INGEST_HTTP_PORT: '0',
  });
  const service = await startIngestService(config, logger, {
    upstream: { backoff: { initialMs: 20, maxMs: 200 } },
    restBackoff: { initialMs: 20, maxMs: 200 },
  });
  await service.ready;
  return service;
}

beforeAll(async () => {
  // 600x: a one-minute candle closes every 100 ms of wall time. A fixed start makes the market
  // (seeded) the same on every run.
  sim = await startSimExchange({
    port: 0,
    speed: 600,
    symbols: ['ETHUSDT'],
    historyDays: 1,
    startMs: Date.UTC(2024, 2, 4, 12, 0),
  });
  ingest = await startIngest(0);
  shutdown = new Shutdown(logger, 3_000);
  algo = await startTradingAlgo(
    loadAlgoConfig({
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: '0',
      INGEST_GRPC_URL: `127.0.0.1:${ingest.grpcPort}`,
      HISTORY_POINTS: '5000',
    }),
    { logger, registry: new Registry(), shutdown, feedBackoff: { initialMs: 20, maxMs: 200, jitter: 0 } },
  );
  await waitFor('algo ready', () => algo.feed.isReady, 10_000);
  client = await TestWsClient.connect(`ws://127.0.0.1:${algo.port}/ws`);
}, 30_000);

afterAll(async () => {
  client?.close();
  await shutdown?.run('test over');
  await ingest?.close();
  await sim?.close();
});

const finals = (): IndicatorMessage[] => client.of('indicator').filter((m) => m.final);

describe('sim-exchange → data-ingest → trading-algo', () => {
  it('streams indicators of the simulated market, identical to the exchange ground truth, across a data-ingest restart', async () => {
    await waitFor('snapshot', () => client.of('snapshot').length === 1, 5_000);
    await waitFor('live final points', () => finals().length >= 10, 10_000);

    const grpcPort = ingest?.grpcPort ?? 0;
    await ingest?.close();
    ingest = null;
    await waitFor('feed down', () =>
      client.of('status').some((s) => s.scope === 'feed' && s.state === 'disconnected'),
    );
    const beforeRestart = finals().length;
    // Five candles close on the exchange while data-ingest is away.
    const away = sim.marketNowMs();
    await waitFor('five minutes of market time', () => sim.marketNowMs() >= away + 5 * 60_000, 10_000);
    ingest = await startIngest(grpcPort);
    await waitFor('feed back', () => algo.feed.isReady, 10_000);
    await waitFor('more final points', () => finals().length >= beforeRestart + 15, 10_000);

    const live = finals();
    // Every minute exactly once, in order, across the restart.
    for (let k = 1; k < live.length; k++) {
      expect(live[k]?.openTimeMs).toBe((live[k - 1]?.openTimeMs ?? 0) + 60_000);
    }
    const history = algo.engine.history(STREAM, 5_000) ?? [];
    const first = history[0];
    const last = history.at(-1);
    if (!first || !last) throw new Error('no history');
    expect(history.length).toBeGreaterThan(1000);

    // The same candles from the exchange's ground truth through a fresh IndicatorSet.
    const truth = sim.truth.candles(STREAM, { startTimeMs: first.openTimeMs, endTimeMs: last.openTimeMs });
    const set = new IndicatorSet(DEFAULT_INDICATOR_CONFIG);
    const expected = truth.map((c) => {
      const p = set.addClosed(c);
      if (p.type !== 'indicator-point') throw new Error(`reference rejected ${c.openTimeMs}`);
      return {
        openTimeMs: p.openTimeMs,
        ema: p.ema,
        atr: p.atr,
        vwap: p.vwap,
        stretch: p.stretch,
        signal: p.signal,
      };
    });
    const got = history.map((p) => ({
      openTimeMs: p.openTimeMs,
      ema: p.ema,
      atr: p.atr,
      vwap: p.vwap,
      stretch: p.stretch,
      signal: p.signal,
    }));
    expect(got).toEqual(expected);

    // The simulated market stretches both ways within a day: both signals fire in the series.
    const sides = new Set(history.map((p) => p.signal));
    expect(sides).toContain('overbought');
    expect(sides).toContain('oversold');
    expect(client.invalid).toEqual([]);
  }, 40_000);
});
