/**
 * Indicators that are right at any hour, on real market data: Binance's ETHUSDT 1m klines of
 * 2022-08-14/15 replayed by the simulated exchange, data-ingest and trading-algo started with the
 * replay standing at different hours of the day (before and after 16:40 UTC, just before midnight,
 * and across a connection drop just after midnight). Every point trading-algo serves is compared
 * with an independent computation over the whole recorded data: EMA and ATR
 * (technicalindicators), the day-anchored VWAP and its bands, and the rubberband signals.
 *
 * Needs the recorded klines in ../shared/data/binance-spot-ethusdt-1m (read at test time, never
 * copied); without them the test says so and is skipped.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WireIndicatorPoint } from '@visualgo/contracts';
import { type IngestService, ingestConfigSchema, startIngestService } from '@visualgo/data-ingest';
import { vwapAnchorStartMs } from '@visualgo/market';
import { loadConfig, Shutdown } from '@visualgo/platform';
import { loadReplay, type ReplayData, type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTradingAlgo, type TradingAlgo } from '../src/app.js';
import { loadAlgoConfig } from '../src/config.js';
import { type ReferencePoint, referenceIndicators } from '../src/testing/reference-indicators.js';
import { waitFor } from '../src/testing/ws-client.js';

const DATA = fileURLToPath(new URL('../../../../shared/data/binance-spot-ethusdt-1m/', import.meta.url));
const HAVE_DATA = existsSync(DATA);
if (!HAVE_DATA) console.warn(`real-data start-hour tests: Binance klines not found at ${DATA}; skipped`);

const STREAM = 'ethusdt@kline_1m';
const MINUTE = 60_000;
const DAY1 = Date.UTC(2022, 7, 14);
const DAY2 = Date.UTC(2022, 7, 15);
const logger = pino({ level: 'silent' });

let replay: ReplayData;
let reference: Map<number, ReferencePoint>;

interface Pipeline {
  readonly sim: SimExchange;
  readonly ingest: IngestService;
  readonly algo: TradingAlgo;
  readonly shutdown: Shutdown;
}

async function startPipeline(startMs: number): Promise<Pipeline> {
  const sim = await startSimExchange({ port: 0, replay, startMs, clock: 'manual' });
  const ingest = await startIngestService(
    loadConfig(ingestConfigSchema, {
      MARKET_SOURCE: 'sim',
      SIM_URL: sim.httpUrl,
      SYMBOLS: 'ethusdt',
      TRADES: 'false',
      INGEST_HOST: '127.0.0.1',
      INGEST_GRPC_PORT: '0',
      INGEST_HTTP_PORT: '0',
    }),
    logger,
    { upstream: { backoff: { initialMs: 20, maxMs: 200 } }, restBackoff: { initialMs: 20, maxMs: 200 } },
  );
  await ingest.ready;
  const shutdown = new Shutdown(logger, 3_000);
  const algo = await startTradingAlgo(
    loadAlgoConfig({
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: '0',
      INGEST_GRPC_URL: `127.0.0.1:${ingest.grpcPort}`,
    }),
    { logger, registry: new Registry(), shutdown, feedBackoff: { initialMs: 20, maxMs: 200, jitter: 0 } },
  );
  await waitFor('algo ready', () => algo.feed.isReady, 30_000);
  return { sim, ingest, algo, shutdown };
}

async function stopPipeline(p: Pipeline): Promise<void> {
  await p.shutdown.run('test');
  await p.ingest.close();
  await p.sim.close();
}

async function caughtUp(p: Pipeline): Promise<void> {
  const now = p.sim.marketNowMs();
  const lastClosed = now - (now % MINUTE) - MINUTE;
  await waitFor(
    `closed candle ${new Date(lastClosed).toISOString()}`,
    () => (p.algo.engine.lastClosedOpenTimeMs(STREAM) ?? 0) >= lastClosed,
    20_000,
  );
}

/** Moves the replay on a minute at a time until `untilMs`, each time until trading-algo has the closed candle. */
async function playTo(p: Pipeline, untilMs: number): Promise<void> {
  while (p.sim.marketNowMs() < untilMs) {
    p.sim.advance(Math.min(MINUTE, untilMs - p.sim.marketNowMs()));
    await caughtUp(p);
  }
}

const close = (got: number | null | undefined, want: number, rel: number, what: string) =>
  expect(Math.abs((got ?? Number.NaN) - want), what).toBeLessThanOrEqual(rel * Math.abs(want));

/** Every point served is exact and equals the independent computation. Returns how many. */
function checkServed(points: readonly WireIndicatorPoint[]): number {
  for (const p of points) {
    const at = new Date(p.openTimeMs).toISOString();
    const r = reference.get(p.openTimeMs);
    if (!r) {
      // The first 14 candles of the data: the ATR (and with it the reference) is not warmed up.
      expect(p.openTimeMs, at).toBeLessThan(DAY1 + 14 * MINUTE);
      expect([p.atr, p.stretch, p.signal], at).toEqual([null, null, 'none']);
      continue;
    }
    expect([p.vwapPartial, p.converged, p.vwapFromMs], at).toEqual([
      false,
      true,
      vwapAnchorStartMs('day', p.openTimeMs),
    ]);
    close(p.ema, r.ema, 1e-9, `EMA at ${at}`);
    close(p.atr, r.atr, 1e-9, `ATR at ${at}`);
    close(p.vwap, r.vwap, 1e-12, `VWAP at ${at}`);
    close(p.vwapBands?.['1']?.[0], r.vwap - r.sigma, 1e-9, `lower band at ${at}`);
    close(p.vwapBands?.['2']?.[1], r.vwap + 2 * r.sigma, 1e-9, `upper band at ${at}`);
    expect(p.signal, `signal at ${at}`).toBe(r.signal);
  }
  return points.length;
}

beforeAll(async () => {
  if (!HAVE_DATA) return;
  replay = await loadReplay({ paths: [DATA] });
  // The whole recorded market, from an exchange standing at the last minute of the data.
  const sim = await startSimExchange({ port: 0, replay, startMs: replay.endMs - MINUTE, clock: 'manual' });
  const candles = sim.truth.candles(STREAM, { startTimeMs: 0 });
  await sim.close();
  expect(candles).toHaveLength(2_880 - 1);
  reference = referenceIndicators(candles, 'day');
}, 30_000);

afterAll(() => {
  replay?.close();
});

describe.skipIf(!HAVE_DATA)('trading-algo on real ETHUSDT klines, started at any hour', () => {
  it('has the reference VWAP the outside report quoted', () => {
    expect(reference.get(DAY1 + (17 * 60 + 31) * MINUTE)?.vwap.toFixed(4)).toBe('1983.6556');
    expect(reference.get(DAY1 + (23 * 60 + 26) * MINUTE)?.vwap.toFixed(4)).toBe('1970.7280');
  });

  for (const [label, startMs, endMs] of [
    ['at 16:30, before 16:40', DAY1 + (16 * 60 + 30) * MINUTE, DAY1 + (17 * 60 + 40) * MINUTE],
    ['at 16:40', DAY1 + (16 * 60 + 40) * MINUTE, DAY1 + (17 * 60 + 35) * MINUTE],
    ['at 16:50, after 16:40', DAY1 + (16 * 60 + 50) * MINUTE, DAY1 + (17 * 60 + 40) * MINUTE],
    ['on the second day at 16:40', DAY2 + (16 * 60 + 40) * MINUTE, DAY2 + (17 * 60 + 10) * MINUTE],
    ['just before midnight, into the next day', DAY1 + (23 * 60 + 55) * MINUTE, DAY2 + 30 * MINUTE],
  ] as const) {
    it(`serves exact values when started ${label}`, async () => {
      const p = await startPipeline(startMs);
      try {
        await playTo(p, endMs);
        const served = p.algo.engine.history(STREAM, 2_000) ?? [];
        // Everything from the start of the data, or the newest 2000 points.
        expect(served[0]?.openTimeMs).toBe(Math.max(DAY1, endMs - (endMs % MINUTE) - 2_000 * MINUTE));
        expect(checkServed(served)).toBeGreaterThan(900);
      } finally {
        await stopPipeline(p);
      }
    }, 120_000);
  }

  it('serves exact values across a connection drop just after midnight', async () => {
    const p = await startPipeline(DAY1 + (23 * 60 + 50) * MINUTE);
    try {
      await playTo(p, DAY2 + 2 * MINUTE);
      // Cut without a close frame while the market moves on, as a network failure would.
      expect(p.sim.dropConnections({ closeFrame: false })).toBeGreaterThan(0);
      while (p.sim.marketNowMs() < DAY2 + 30 * MINUTE) {
        p.sim.advance(10_000);
        await new Promise((r) => setTimeout(r, 20));
      }
      await caughtUp(p);
      const served = p.algo.engine.history(STREAM, 2_000) ?? [];
      const times = served.map((x) => x.openTimeMs);
      for (let k = 1; k < times.length; k++) expect(times[k]).toBe((times[k - 1] ?? 0) + MINUTE);
      // Every minute from the start of the data to 00:29: the hole the cut made was filled.
      expect(served[0]?.openTimeMs).toBe(DAY1);
      expect(checkServed(served)).toBe(1_440 + 30);
    } finally {
      await stopPipeline(p);
    }
  }, 120_000);
});
