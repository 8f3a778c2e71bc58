/**
 * trading-algo as two workers of a NATS cluster, each owning half of the partitions (BTCUSDT is in
 * an even partition, SOLUSDT in an odd one), behind a data-ingest publishing the simulated
 * exchange on JetStream. What they store (`ALGO_POINTS`) is, point for point, what one process
 * computes from the same candles; a worker killed with SIGKILL and started again resumes from its
 * saved state and leaves no hole and no double in its output.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { partitionOf } from '@visualgo/bus';
import { KlineHistory, NatsBus } from '@visualgo/bus/nats';
import { type IngestService, ingestConfigSchema, startIngestService } from '@visualgo/data-ingest';
import { candleIndexOf, type Interval, openTimeOfCandleIndex } from '@visualgo/market';
import { createLogger, loadConfig } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { type LogLine, ServiceProcess, TestNatsServer } from '@visualgo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PointsLog } from '../src/cluster/algo-output.js';
import { IndicatorEngine, type wirePoint } from '../src/engine/indicator-engine.js';

const STREAMS = ['btcusdt@kline_1m', 'solusdt@kline_1m'] as const;
const HISTORY_POINTS = 200;
/** Each worker's ALGO_ACK_WAIT_MS. */
const ACK_WAIT_MS = [20_000, 25_000];
const logger = createLogger({ name: 'cluster-workers-test', level: 'silent' });
/** trading-algo's defaults (EMA 9, ATR 14, day VWAP on hlc3 with bands 1 and 2, K = 2). */
const INDICATORS = {
  emaPeriod: 9,
  atrPeriod: 14,
  vwapAnchor: 'day',
  vwapSource: 'hlc3',
  vwapBands: [1, 2],
  rubberbandK: 2,
} as const;

let nats: TestNatsServer;
let sim: SimExchange;
let ingest: IngestService;
let reader: NatsBus;
let points: PointsLog;
let candles: KlineHistory;
const workers: ServiceProcess[] = [];

function startWorker(instance: number): ServiceProcess {
  const p = new ServiceProcess(`trading-algo-${instance}`, 'services/trading-algo/src/main.ts', {
    NATS_URL: nats.url,
    MARKET_SOURCE: 'sim',
    ALGO_INSTANCES: '2',
    ALGO_INSTANCE: String(instance),
    ALGO_HOST: '127.0.0.1',
    ALGO_HTTP_PORT: '0',
    HISTORY_POINTS: String(HISTORY_POINTS),
    SNAPSHOT_POINTS: '100',
    ALGO_SNAPSHOT_MS: '200',
    ALGO_ACK_WAIT_MS: String(ACK_WAIT_MS[instance] ?? 30_000),
    LOG_LEVEL: 'info',
  });
  workers.push(p);
  return p;
}

const joined = (line: LogLine) => line.msg === 'worker joined';
const index = (openTimeMs: number) => candleIndexOf('1m', openTimeMs);

/** Open time of the newest point stored for a stream, or null. */
async function newestPoint(stream: string): Promise<number | null> {
  return (await points.last(stream, 1))[0]?.openTimeMs ?? null;
}

beforeAll(async () => {
  nats = await TestNatsServer.start();
  // 300x: a one-minute candle every 200 ms; noon, so the warm-up reaches back into the day before.
  sim = await startSimExchange({
    port: 0,
    speed: 300,
    startMs: Date.UTC(2024, 2, 4, 12),
    symbols: ['BTCUSDT', 'SOLUSDT'],
    historyDays: 2,
  });
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'sim',
    SIM_URL: sim.httpUrl,
    SYMBOLS: 'btcusdt,solusdt',
    INTERVALS: '1m',
    TRADES: 'false',
    HISTORY_CANDLES: '1500',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: '0',
    INGEST_HTTP_PORT: '0',
    NATS_URL: nats.url,
    LOG_LEVEL: 'silent',
  });
  ingest = await startIngestService(config, logger);
  await ingest.ready;
  reader = await NatsBus.connect({ servers: nats.url, name: 'test-reader' }, { venue: 'binance-sim' });
  const js = jetstream(reader.connection);
  const jsm = await jetstreamManager(reader.connection);
  points = new PointsLog(js, jsm, 'binance-sim');
  candles = new KlineHistory(js, jsm, { venue: 'binance-sim' });
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  await reader?.close();
  await ingest?.close();
  await sim?.close();
  await nats?.stop();
});

describe('trading-algo workers on NATS', () => {
  it('split the partitions, and store what one process computes, also across a SIGKILL and restart', async () => {
    expect(partitionOf('BTCUSDT') % 2).toBe(0);
    expect(partitionOf('SOLUSDT') % 2).toBe(1);
    const a = startWorker(0);
    const b = startWorker(1);
    const [ja, jb] = await Promise.all([a.waitForLog(joined, 60_000), b.waitForLog(joined, 60_000)]);
    expect((ja.partitions as number[]).every((p) => p % 2 === 0)).toBe(true);
    expect((jb.partitions as number[]).every((p) => p % 2 === 1)).toBe(true);
    // Each worker's partition consumers wait for acknowledgements as long as it is configured to.
    const jsm = await jetstreamManager(reader.connection);
    for (const [i, joinedLine] of [ja, jb].entries()) {
      const partition = (joinedLine.partitions as number[])[0] as number;
      const consumer = await jsm.consumers.info('MD_KLINES', `algo_binance-sim_p${partition}`);
      expect(consumer.config.ack_wait).toBe((ACK_WAIT_MS[i] as number) * 1_000_000);
    }

    // Both streams' points keep up with the closed candles.
    const caughtUp = async () => {
      for (const stream of STREAMS) {
        const newest = await candles.newest(stream);
        const point = await newestPoint(stream);
        if (!newest || point === null || point < newest.candle.openTimeMs) return false;
      }
      return true;
    };
    await waitForAsync('points up to date', caughtUp, 60_000);
    const btcBeforeKill = (await candles.newest(STREAMS[0]))?.candle.openTimeMs ?? 0;

    // Worker 0 has saved its state at least once (every 200 ms, once its output is stored) and
    // taken candles since; then it dies without a chance to save or acknowledge anything more.
    await waitForAsync(
      'a saved state',
      async () => (await fetchHealth(a)).feed.counters.snapshots > 0,
      30_000,
    );
    const savedAt = (await candles.newest(STREAMS[0]))?.candle.openTimeMs ?? 0;
    await waitForAsync(
      'candles after the save',
      async () => ((await newestPoint(STREAMS[0])) ?? 0) >= savedAt + 3 * 60_000,
      30_000,
    );
    await a.kill9();
    await waitForAsync(
      'candles moving on without worker 0',
      async () => ((await candles.newest(STREAMS[0]))?.candle.openTimeMs ?? 0) >= btcBeforeKill + 10 * 60_000,
      30_000,
    );
    const again = startWorker(0);
    const rejoined = await again.waitForLog(joined, 60_000);
    expect(rejoined.partitions).toEqual(ja.partitions);
    await again.waitForLog((l) => l.msg === 'trading-algo listening');
    await waitForAsync('points up to date after the restart', caughtUp, 60_000);
    const health = await fetchHealth(again);
    expect(health.feed.counters.restored).toBeGreaterThan(0);
    expect(health.feed.counters.warmedUp).toBe(0);

    // The market stops, and the workers store the points of the last candles that closed: the
    // stores hold still while they are read (a read of a whole window of points while new ones
    // come and the oldest fall out could find fewer than HISTORY_POINTS).
    sim.pauseMarket();
    const lastClosed = openTimeOfCandleIndex('1m', index(sim.marketNowMs()) - 1);
    await waitForAsync(
      'the last closed candles stored, and their points',
      async () => {
        for (const stream of STREAMS) {
          if ((await candles.newest(stream))?.candle.openTimeMs !== lastClosed) return false;
        }
        return caughtUp();
      },
      30_000,
    );

    // The reference: one engine in this process, fed every stored candle from the calendar origin.
    for (const stream of STREAMS) {
      const stored = await points.last(stream, HISTORY_POINTS * 10);
      expect(stored.length).toBe(HISTORY_POINTS);
      // No hole and no double: one point per candle, in order.
      const idx = stored.map((p) => index(p.openTimeMs));
      expect(idx.every((x, i) => i === 0 || x === (idx[i - 1] as number) + 1)).toBe(true);
      const first = stored[0]?.openTimeMs as number;
      const last = stored.at(-1)?.openTimeMs as number;
      const reference = await referencePoints(stream, first, last);
      expect(
        stored.map(({ type: _t, stream: _s, exchange: _e, symbol: _y, interval: _i, ...p }) => p),
      ).toEqual(reference);
    }

    // The restored worker's own /api serves the history of its streams, also from before the
    // restore (points the worker does not hold, read from the store).
    const end = (await newestPoint(STREAMS[0])) as number;
    const expected = (await points.last(STREAMS[0], 100, end)).map(
      ({ type: _t, stream: _s, exchange: _e, symbol: _y, interval: _i, ...p }) => p,
    );
    const port = String((await again.waitForLog((l) => l.msg === 'trading-algo listening')).port);
    const api = (await (
      await fetch(`http://127.0.0.1:${port}/api/indicators?stream=${STREAMS[0]}&limit=100&endTimeMs=${end}`)
    ).json()) as { points: unknown[] };
    expect(expected).toHaveLength(100);
    expect(api.points).toEqual(expected);
  }, 180_000);
});

/** What one process computes for `stream` at every candle from `first` to `last`, from the calendar origin. */
async function referencePoints(stream: string, first: number, last: number) {
  const engine = new IndicatorEngine({ indicators: INDICATORS, historyPoints: 100_000, logger });
  const symbol = stream.split('@')[0]?.toUpperCase() ?? '';
  const info = { stream, exchange: 'binance-sim' as const, symbol, interval: '1m' as Interval };
  // The origin that makes the point at `first` exact (an engine keeping one point warms up for it).
  const from = new IndicatorEngine({ indicators: INDICATORS, historyPoints: 1, logger }).warmupFromMs(
    info,
    first,
  );
  engine.declareStreams([info]);
  engine.completeFrom(stream, from);
  const all = await candles.range(stream, {
    startTimeMs: from,
    endTimeMs: last,
    limit: Number.MAX_SAFE_INTEGER,
  });
  expect(all[0]?.openTimeMs).toBe(from);
  const out: ReturnType<typeof wirePoint>[] = [];
  const stop = engine.subscribe((event) => {
    if (event.type === 'indicator' && event.message.final && event.message.openTimeMs >= first) {
      const { type: _t, stream: _s, exchange: _e, symbol: _y, interval: _i, ...p } = event.message;
      out.push(p);
    }
  });
  for (const candle of all) engine.onCandle(stream, candle, false);
  stop();
  return out;
}

async function waitForAsync(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function fetchHealth(worker: ServiceProcess) {
  const line = await worker.waitForLog((l) => l.msg === 'trading-algo listening');
  const response = await fetch(`http://127.0.0.1:${String(line.port)}/healthz`);
  return (await response.json()) as {
    feed: { counters: { restored: number; warmedUp: number; snapshots: number } };
  };
}
