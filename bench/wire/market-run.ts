/**
 * One end-to-end run at a market's shape: the market feeder (market-feeder.ts) as the exchange,
 * data-ingest following every symbol's 1m kline and trade streams, trading-algo following every
 * kline stream through data-ingest's gRPC, and one client on trading-algo's `/ws` following every
 * stream, as a browser would, in four processes. The market runs from the feeder's start; the
 * start-up (data-ingest's history, trading-algo's warm-up, the client's snapshots) and a warm-up
 * come first and are not measured; then a window of `seconds`: what the feeder sends with a send
 * time inside it is counted, and each `indicator` the client gets of a kline sent inside it is
 * counted and timed from the kline's send time. Every wait is bounded.
 */
import { loadavg } from 'node:os';
import { Child, freePort, waitHttpOk } from './child.js';
import { drain, type KlineCounts, klineCounts, stats } from './edge-run.js';
import type {
  ClientsOptions,
  ClientsReport,
  FeederReport,
  LatencySummary,
  MarketShape,
  MarketWindowReport,
} from './protocol.js';
import { nowUs } from './protocol.js';
import { marketSymbols } from './synthetic-market.js';

const HERE = new URL('.', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;

export interface MarketRunOptions extends MarketShape {
  /** The measured window (s). */
  readonly seconds: number;
  /** After the client has every snapshot, before the window (s). Default 10. */
  readonly warmSeconds?: number;
  /** Bound on the start-up: data-ingest healthy, trading-algo ready, every snapshot (ms). Default 10 min. */
  readonly startupTimeoutMs?: number;
  /** Extra environment for data-ingest and trading-algo. */
  readonly ingestEnv?: Readonly<Record<string, string>>;
  readonly algoEnv?: Readonly<Record<string, string>>;
  /** Node flags for data-ingest and trading-algo (`--cpu-prof` and the like). */
  readonly ingestNodeArgs?: readonly string[];
  readonly algoNodeArgs?: readonly string[];
  /** Another checkout's root to run both services from. */
  readonly root?: string;
}

export interface ServiceFigures {
  /** CPU time over the window (ms). */
  readonly cpuMs: number;
  /** That per message it handled in the window (µs): data-ingest per exchange event, trading-algo per indicator. */
  readonly cpuUsPerMessage: number;
  readonly rssMb: number;
  readonly peakRssMb: number;
  /** What held the service's event loop during the window: where a latency tail can come from. */
  readonly runtime: RuntimeFigures;
}

/**
 * A service's event-loop delay and garbage-collection pauses over the window, from its `/metrics`
 * (prom-client's default metrics: `monitorEventLoopDelay` at 10 ms resolution, reset at each
 * scrape, and the `nodejs_gc_duration_seconds` histogram).
 */
export interface RuntimeFigures {
  /**
   * Event-loop delay, p99 and max (ms): how late the 10 ms sampling timer fired (the histogram
   * holds the intervals between its firings, so the 10 ms are taken off).
   */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Garbage-collection pauses (all kinds) in the window: total (ms), count, and those over 10 ms. */
  readonly gcMs: number;
  readonly gcPauses: number;
  readonly gcPausesOver10Ms: number;
}

/** prom-client's `monitorEventLoopDelay` resolution (its default `eventLoopMonitoringPrecision`). */
const LOOP_SAMPLE_MS = 10;

interface RuntimeScrape {
  readonly lagP99: number;
  readonly lagMax: number;
  readonly gcSum: number;
  readonly gcCount: number;
  readonly gcUnder10Ms: number;
}

async function runtimeScrape(metricsUrl: string): Promise<RuntimeScrape> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  let lagP99 = Number.NaN;
  let lagMax = Number.NaN;
  let gcSum = 0;
  let gcCount = 0;
  let gcUnder10Ms = 0;
  for (const line of text.split('\n')) {
    // `name{labels} value` or `name value`: every series here carries the `service` label.
    const name = /^[a-z0-9_]+/.exec(line)?.[0];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (name === 'nodejs_eventloop_lag_p99_seconds') lagP99 = value;
    else if (name === 'nodejs_eventloop_lag_max_seconds') lagMax = value;
    else if (name === 'nodejs_gc_duration_seconds_sum') gcSum += value;
    else if (name === 'nodejs_gc_duration_seconds_count') gcCount += value;
    else if (name === 'nodejs_gc_duration_seconds_bucket' && line.includes('le="0.01"')) gcUnder10Ms += value;
  }
  return { lagP99, lagMax, gcSum, gcCount, gcUnder10Ms };
}

function runtimeFigures(before: RuntimeScrape, after: RuntimeScrape): RuntimeFigures {
  const pauses = after.gcCount - before.gcCount;
  return {
    loopDelayP99Ms: Math.max(0, after.lagP99 * 1000 - LOOP_SAMPLE_MS),
    loopDelayMaxMs: Math.max(0, after.lagMax * 1000 - LOOP_SAMPLE_MS),
    gcMs: (after.gcSum - before.gcSum) * 1000,
    gcPauses: pauses,
    gcPausesOver10Ms: pauses - (after.gcUnder10Ms - before.gcUnder10Ms),
  };
}

export interface MarketRunResult {
  readonly shape: MarketShape;
  readonly seconds: number;
  readonly startup: {
    readonly ingestHealthyMs: number;
    /** data-ingest ready: its start-up history loaded (trading-algo is started then). */
    readonly ingestReadyMs: number;
    readonly algoReadyMs: number;
    readonly subscribedMs: number;
    /** REST requests and candles the feeder served before the window. */
    readonly restRequests: number;
    readonly restCandles: number;
  };
  readonly window: MarketWindowReport;
  /** Indicators expected: one per open update and per closing event sent in the window. */
  readonly expected: number;
  readonly received: number;
  /** Of `received`, closed candles' indicators. */
  readonly finals: number;
  readonly lost: number;
  readonly latency: LatencySummary;
  /** The worst latency (ms) of each second of the window, by send time: where the tail fell. */
  readonly worstBySecondMs: readonly number[];
  readonly clientsClosed: number;
  readonly drainMs: number;
  readonly ingest: ServiceFigures;
  readonly algo: ServiceFigures;
  /** CPU time of the benchmark's own processes over the window (ms): they share the machine. */
  readonly feederCpuMs: number;
  readonly clientCpuMs: number;
  /**
   * The first hop alone: of the kline events data-ingest took in during the window, the share that
   * reached its handler more than 5, 10, 25, 50 and 100 ms after the feeder's event time (its
   * `ingest_event_lag_seconds`, whole milliseconds): what of the end-to-end tail was there already.
   */
  readonly ingestReceiveLagOver: Readonly<Record<string, number>>;
  /** data-ingest's kline counters over the window (published open-candle updates, dropped ones). */
  readonly ingestKlines: KlineCounts;
  /**
   * The window on the monotonic clock (µs, `process.hrtime`), the clock of a `--cpu-prof` profile's
   * sample times: `profile-summary.ts --window` sums only the window's samples.
   */
  readonly monotonicWindowUs: readonly [number, number];
  /** Wall-clock start of the window (ms): where the minute boundary fell in it. */
  readonly windowStartMs: number;
  /** 1-minute load average at the start and at the end of the run. */
  readonly loadAverage: readonly [number, number];
}

/** data-ingest's `ingest_event_lag_seconds` buckets for kline events: cumulative count by upper bound (s). */
async function klineLagBuckets(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('ingest_event_lag_seconds_bucket{') || !line.includes('kind="candle"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le !== undefined) out.set(le, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function load1(): number {
  return Number(loadavg()[0]?.toFixed(2));
}

async function at(us: number): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.max(0, (us - nowUs()) / 1000)));
}

/** Polls the client until it has a snapshot of every stream; returns its stats then. */
async function subscribed(clients: Child, streams: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats(clients);
    if (s.snapshots >= streams) return s;
    if (s.closed > 0) throw new Error('the client was closed while subscribing');
    if (Date.now() > deadline)
      throw new Error(`${s.snapshots} of ${streams} snapshots within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function marketRun(options: MarketRunOptions): Promise<MarketRunResult> {
  const root = options.root ?? ROOT;
  const shape: MarketShape = {
    symbols: options.symbols,
    tradesPerSecond: options.tradesPerSecond,
    klinesPerSecond: options.klinesPerSecond,
    historyMinutes: options.historyMinutes,
  };
  const startupTimeoutMs = options.startupTimeoutMs ?? 600_000;
  const loadStart = load1();
  const children: Child[] = [];
  try {
    const started = Date.now();
    const feeder = new Child('market feeder', `${HERE}market-feeder.ts`, {
      BENCH_MARKET: JSON.stringify(shape),
    });
    children.push(feeder);
    const { feedUrl, restUrl } = await feeder.next<Extract<FeederReport, { type: 'listening' }>>(
      'listening',
      60_000,
    );
    const httpPort = await freePort();
    const grpcPort = await freePort();
    const ingest = new Child(
      'data-ingest',
      `${root}services/data-ingest/src/main.ts`,
      {
        BINANCE_WS_URL: feedUrl,
        BINANCE_REST_URL: restUrl,
        SYMBOLS: marketSymbols(options.symbols).join(',').toLowerCase(),
        INTERVALS: '1m',
        TRADES: 'true',
        INGEST_HOST: '127.0.0.1',
        INGEST_HTTP_PORT: String(httpPort),
        INGEST_GRPC_PORT: String(grpcPort),
        // trading-algo opens one StreamCandles call per kline stream, plus StreamFeedStatus.
        GRPC_MAX_STREAMS: String(options.symbols + 100),
        GRPC_MAX_STREAMS_PER_ADDRESS: '0',
        ...options.ingestEnv,
      },
      options.ingestNodeArgs ?? [],
    );
    children.push(ingest);
    await waitHttpOk(`http://127.0.0.1:${httpPort}/healthz`, 60_000);
    const ingestHealthyMs = Date.now() - started;
    // trading-algo started before data-ingest holds its history would be refused while it loads.
    await waitHttpOk(`http://127.0.0.1:${httpPort}/readyz`, startupTimeoutMs);
    const ingestReadyMs = Date.now() - started;
    const algoPort = await freePort();
    const algo = new Child(
      'trading-algo',
      `${root}services/trading-algo/src/main.ts`,
      {
        INGEST_GRPC_URL: `127.0.0.1:${grpcPort}`,
        ALGO_HOST: '127.0.0.1',
        ALGO_HTTP_PORT: String(algoPort),
        ...options.algoEnv,
      },
      options.algoNodeArgs ?? [],
    );
    children.push(algo);
    await waitHttpOk(`http://127.0.0.1:${algoPort}/readyz`, startupTimeoutMs - (Date.now() - started));
    const algoReadyMs = Date.now() - started;

    const clientOptions: ClientsOptions = {
      url: `ws://127.0.0.1:${algoPort}/ws`,
      clients: 1,
      kind: 'indicator',
    };
    const clients = new Child('clients', `${HERE}clients.ts`, {
      BENCH_CLIENTS: JSON.stringify(clientOptions),
    });
    children.push(clients);
    const connected = await clients.next<Extract<ClientsReport, { type: 'connected' }>>('connected', 60_000);
    if (connected.failed > 0) throw new Error('the client failed to connect to trading-algo');
    await subscribed(clients, options.symbols, Math.max(30_000, startupTimeoutMs - (Date.now() - started)));
    const subscribedMs = Date.now() - started;
    feeder.send({ type: 'rest-stats' });
    const rest = await feeder.next<Extract<FeederReport, { type: 'rest-stats' }>>('rest-stats', 10_000);

    await new Promise((r) => setTimeout(r, (options.warmSeconds ?? 10) * 1000));
    const metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
    const klinesBefore = await klineCounts(metricsUrl);
    const lagBefore = await klineLagBuckets(metricsUrl);
    const algoMetricsUrl = `http://127.0.0.1:${algoPort}/metrics`;
    // Scraped last before the window: the event-loop delay histograms start over from here.
    const ingestRuntime0 = await runtimeScrape(metricsUrl);
    const algoRuntime0 = await runtimeScrape(algoMetricsUrl);
    const fromUs = nowUs() + 500_000;
    const toUs = fromUs + options.seconds * 1_000_000;
    feeder.send({ type: 'window', fromUs, toUs });
    clients.send({ type: 'window', fromUs, toUs });
    await at(fromUs);
    const monotonicFromUs = monotonicUs();
    const ingestCpu0 = ingest.cpuMs();
    const algoCpu0 = algo.cpuMs();
    const feederCpu0 = feeder.cpuMs();
    const clientCpu0 = clients.cpuMs();
    await at(toUs);
    const ingestCpuMs = ingest.cpuMs() - ingestCpu0;
    const algoCpuMs = algo.cpuMs() - algoCpu0;
    const feederCpuMs = feeder.cpuMs() - feederCpu0;
    const clientCpuMs = clients.cpuMs() - clientCpu0;
    const monotonicToUs = monotonicUs();
    const ingestRuntime = runtimeFigures(ingestRuntime0, await runtimeScrape(metricsUrl));
    const algoRuntime = runtimeFigures(algoRuntime0, await runtimeScrape(algoMetricsUrl));
    const window = await feeder.next<MarketWindowReport>('window', 60_000);
    const expected = window.opens + window.closes;
    const drainMs = await drain(clients, expected, 5_000, 60_000);
    const after = await stats(clients);
    const klinesAfter = await klineCounts(metricsUrl);
    const lagAfter = await klineLagBuckets(metricsUrl);
    const lagIn = (le: string) => (lagAfter.get(le) ?? 0) - (lagBefore.get(le) ?? 0);
    const lagTotal = lagIn('+Inf');
    const ingestReceiveLagOver = Object.fromEntries(
      ['0.005', '0.01', '0.025', '0.05', '0.1'].map((le) => [
        `${Number(le) * 1000} ms`,
        lagTotal > 0 ? 1 - lagIn(le) / lagTotal : Number.NaN,
      ]),
    );
    const figures = (
      child: Child,
      cpuMs: number,
      messages: number,
      runtime: RuntimeFigures,
    ): ServiceFigures => ({
      cpuMs,
      cpuUsPerMessage: (cpuMs * 1000) / Math.max(1, messages),
      rssMb: child.memory().rssMb,
      peakRssMb: child.memory().peakMb,
      runtime,
    });
    return {
      shape,
      seconds: options.seconds,
      startup: {
        ingestHealthyMs,
        ingestReadyMs,
        algoReadyMs,
        subscribedMs,
        restRequests: rest.requests,
        restCandles: rest.candles,
      },
      window,
      expected,
      received: after.received,
      finals: after.finals,
      lost: Math.max(0, expected - after.received),
      latency: after.latency,
      worstBySecondMs: after.worstBySecondMs,
      clientsClosed: after.closed,
      drainMs,
      ingest: figures(
        ingest,
        ingestCpuMs,
        window.trades + window.opens + window.closes + window.restCloses,
        ingestRuntime,
      ),
      algo: figures(algo, algoCpuMs, after.received, algoRuntime),
      feederCpuMs,
      clientCpuMs,
      ingestReceiveLagOver,
      ingestKlines: {
        published: klinesAfter.published - klinesBefore.published,
        duplicate: klinesAfter.duplicate - klinesBefore.duplicate,
        stale: klinesAfter.stale - klinesBefore.stale,
      },
      monotonicWindowUs: [monotonicFromUs, monotonicToUs],
      windowStartMs: Math.round(fromUs / 1000),
      loadAverage: [loadStart, load1()],
    };
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}
