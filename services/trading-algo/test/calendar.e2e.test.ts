/**
 * Values fixed by the calendar, end to end: the simulated exchange (manual clock) → data-ingest →
 * several trading-algo instances for each VWAP anchor, across 2024-04-01 00:00 UTC, where a day, a
 * week (Monday) and a month start at once.
 *
 * - A runs from 23:20 while data-ingest is restarted across midnight (its feed interrupted);
 * - B runs from 23:20, is stopped at 23:50 and started again at 00:10;
 * - C starts for the first time at 00:25, keeping 30 points: its oldest point opens after
 *   midnight, so it warms up from another origin (2024-03-31 17:32, not 03-30 17:32).
 * Every point the three hold in common is the same, bit for bit, and agrees with an independent
 * computation over the market's whole history: technicalindicators' EMA and ATR to 1e-9, a direct
 * anchored VWAP and bands, and the rubberband rule applied to those values.
 */
import type { WireIndicatorPoint } from '@visualgo/contracts';
import { type IngestService, ingestConfigSchema, startIngestService } from '@visualgo/data-ingest';
import { type VwapAnchor, vwapAnchorStartMs } from '@visualgo/market';
import { loadConfig, Shutdown } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTradingAlgo, type TradingAlgo } from '../src/app.js';
import { loadAlgoConfig } from '../src/config.js';
import { referenceIndicators as reference } from '../src/testing/reference-indicators.js';
import { waitFor } from '../src/testing/ws-client.js';

const STREAM = 'ethusdt@kline_1m';
const MINUTE = 60_000;
const MIDNIGHT = Date.UTC(2024, 3, 1); // Monday 1 April 2024
const ANCHORS: readonly VwapAnchor[] = ['day', 'week', 'month'];
const logger = pino({ level: 'silent' });

let sim: SimExchange;
let ingest: IngestService | null = null;
let grpcPort = 0;
const running = new Set<{ algo: TradingAlgo; shutdown: Shutdown }>();

async function startIngest(): Promise<void> {
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'sim',
    SIM_URL: sim.httpUrl,
    SYMBOLS: 'ethusdt',
    TRADES: 'false',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: String(grpcPort),
    INGEST_HTTP_PORT: '0',
  });
  ingest = await startIngestService(config, logger, {
    upstream: { backoff: { initialMs: 20, maxMs: 200 } },
    restBackoff: { initialMs: 20, maxMs: 200 },
  });
  await ingest.ready;
  grpcPort = ingest.grpcPort;
}

async function startAlgo(anchor: VwapAnchor, historyPoints = 200) {
  const shutdown = new Shutdown(logger, 3_000);
  const algo = await startTradingAlgo(
    loadAlgoConfig({
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: '0',
      INGEST_GRPC_URL: `127.0.0.1:${grpcPort}`,
      VWAP_ANCHOR: anchor,
      HISTORY_POINTS: String(historyPoints),
      SNAPSHOT_POINTS: String(historyPoints),
    }),
    { logger, registry: new Registry(), shutdown, feedBackoff: { initialMs: 20, maxMs: 200, jitter: 0 } },
  );
  const handle = { algo, shutdown };
  running.add(handle);
  await waitFor(`${anchor} algo ready`, () => algo.feed.isReady, 30_000);
  return handle;
}

async function stopAlgo(handle: { algo: TradingAlgo; shutdown: Shutdown }): Promise<void> {
  running.delete(handle);
  await handle.shutdown.run('test');
}

/** Moves the market to `untilMs`, 10 s at a time, and waits until every running algo has the last closed candle. */
async function runMarketTo(untilMs: number): Promise<void> {
  while (sim.marketNowMs() < untilMs) {
    sim.advance(Math.min(10_000, untilMs - sim.marketNowMs()));
    await new Promise((r) => setTimeout(r, 2));
  }
  const lastClosed = untilMs - (untilMs % MINUTE) - MINUTE;
  for (const { algo } of running) {
    await waitFor(
      'algo caught up',
      () => (algo.engine.lastClosedOpenTimeMs(STREAM) ?? 0) >= lastClosed,
      20_000,
    );
  }
}

const close = (got: number | null, want: number, rel: number) =>
  expect(Math.abs((got ?? Number.NaN) - want)).toBeLessThanOrEqual(rel * Math.abs(want));

beforeAll(async () => {
  // The market begins 32 days before the start day (2024-02-28 00:00): enough for the month
  // anchor's warm-up, which reaches back to 2024-02-29 17:32.
  sim = await startSimExchange({
    port: 0,
    clock: 'manual',
    symbols: ['ETHUSDT'],
    historyDays: 32,
    startMs: MIDNIGHT - 40 * MINUTE,
  });
  await startIngest();
}, 60_000);

afterAll(async () => {
  for (const handle of running) await handle.shutdown.run('test over');
  await ingest?.close();
  await sim?.close();
});

describe('values fixed by the calendar, across a day, week and month boundary', () => {
  it('are the same in every instance, however started or interrupted, and agree with the full history', async () => {
    const a = new Map<VwapAnchor, TradingAlgo>();
    const b = new Map<VwapAnchor, { algo: TradingAlgo; shutdown: Shutdown }>();
    for (const anchor of ANCHORS) {
      a.set(anchor, (await startAlgo(anchor)).algo);
      b.set(anchor, await startAlgo(anchor));
    }
    await runMarketTo(MIDNIGHT - 10 * MINUTE); // 23:50
    for (const handle of b.values()) await stopAlgo(handle);
    await runMarketTo(MIDNIGHT - 5 * MINUTE); // 23:55
    // data-ingest goes away across midnight: A's feed is interrupted and resumes afterwards.
    await ingest?.close();
    ingest = null;
    for (let t = sim.marketNowMs(); t < MIDNIGHT + 5 * MINUTE; t += 10_000) sim.advance(10_000);
    await startIngest();
    await runMarketTo(MIDNIGHT + 10 * MINUTE);
    const b2 = new Map<VwapAnchor, TradingAlgo>();
    for (const anchor of ANCHORS) b2.set(anchor, (await startAlgo(anchor)).algo);
    await runMarketTo(MIDNIGHT + 25 * MINUTE);
    const c = new Map<VwapAnchor, TradingAlgo>();
    for (const anchor of ANCHORS) c.set(anchor, (await startAlgo(anchor, 30)).algo);
    await runMarketTo(MIDNIGHT + 40 * MINUTE);

    const history = sim.truth.candles(STREAM, { startTimeMs: 0, endTimeMs: MIDNIGHT + 39 * MINUTE });
    expect(history[0]?.openTimeMs).toBe(Date.UTC(2024, 1, 28));
    for (const anchor of ANCHORS) {
      const series = (algo: TradingAlgo | undefined): Map<number, WireIndicatorPoint> =>
        new Map((algo?.engine.history(STREAM, 200) ?? []).map((p) => [p.openTimeMs, p]));
      const [sa, sb, sc] = [series(a.get(anchor)), series(b2.get(anchor)), series(c.get(anchor))];
      // A and B hold 21:20 .. 00:39 (200 points), C 00:10 .. 00:39: every common point is the same.
      expect([...sb.keys()]).toEqual([...sa.keys()]);
      expect(Math.min(...sa.keys())).toBe(MIDNIGHT - 160 * MINUTE);
      for (const [t, p] of sa) expect(sb.get(t), `${anchor} B at ${new Date(t).toISOString()}`).toEqual(p);
      expect(sc.size).toBe(30);
      for (const [t, p] of sc) expect(p, `${anchor} C at ${new Date(t).toISOString()}`).toEqual(sa.get(t));
      const common = [...sa.keys()];
      // Against an independent computation over the market's whole history.
      const ref = reference(history, anchor);
      for (const t of common) {
        const p = sa.get(t);
        const r = ref.get(t);
        if (!p || !r) throw new Error(`missing point ${t}`);
        expect([p.vwapPartial, p.converged, p.vwapFromMs]).toEqual([
          false,
          true,
          vwapAnchorStartMs(anchor, t),
        ]);
        close(p.ema, r.ema, 1e-9);
        close(p.atr, r.atr, 1e-9);
        close(p.vwap, r.vwap, 1e-12);
        close(p.vwapBands?.['2']?.[1] ?? null, r.vwap + 2 * r.sigma, 1e-9);
        expect(p.signal, `${anchor} signal at ${new Date(t).toISOString()}`).toBe(r.signal);
      }
    }
  }, 240_000);
});
