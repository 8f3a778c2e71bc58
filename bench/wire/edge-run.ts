/**
 * One wire-benchmark run: a feeder process, the edge under test in its own process (data-ingest
 * fed by the feeder as its exchange, or the plain-`ws` floor relay), and a clients process.
 * Everything is started fresh for each run and stopped after it; every wait is bounded.
 */
import { Child, freePort, waitHttpOk } from './child.js';
import type { ClientsOptions, ClientsReport, FeederReport, LatencySummary } from './protocol.js';

const HERE = new URL('.', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * `data-ingest`: its `/ws`, trades; `floor`: the plain relay, trades; `trading-algo`: its `/ws`
 * fed by data-ingest over gRPC, `indicator` messages computed from kline updates.
 */
export type EdgeKind = 'data-ingest' | 'floor' | 'trading-algo';

export interface EdgeRunOptions {
  readonly edge: EdgeKind;
  readonly clients: number;
  readonly tradesPerSecond: number;
  /** Clients that stop reading once connected (slow consumers), out of `clients`; not counted. */
  readonly stalledClients?: number;
  /** Kline updates per second over all symbols (what trading-algo turns into indicators). Default 0. */
  readonly klinesPerSecond?: number;
  readonly seconds: number;
  /** Extra environment for data-ingest (WS_WORKERS and the like). */
  readonly env?: Readonly<Record<string, string>>;
  /** Node flags for the edge process (`--cpu-prof` and the like). */
  readonly nodeArgs?: readonly string[];
  /** Another checkout's root to run data-ingest from (to compare with an earlier version). */
  readonly root?: string;
}

export interface EdgeRunResult {
  readonly edge: EdgeKind;
  readonly clients: number;
  readonly tradesPerSecond: number;
  readonly seconds: number;
  readonly sent: number;
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly outOfOrder: number;
  readonly clientsClosed: number;
  readonly stalledClients: number;
  /** Every reading client got the same number of messages (what one missed, all missed). */
  readonly evenDelivery: boolean;
  /** Stalled clients the edge closed (as slow consumers) during the run. */
  readonly stalledClosed: number;
  readonly latency: LatencySummary;
  readonly peakRssMb: number;
  readonly rssIdleMb: number;
  readonly rssConnectedMb: number;
  /** Resident memory the connected clients added, per client (KB), before any load. */
  readonly kbPerClient: number;
  /** CPU time the edge process used from the start of the measured run until the backlog drained (ms). */
  readonly edgeCpuMs: number;
  /** That CPU time per delivered message (µs): the edge's cost per delivery, less sensitive to a busy machine than latency. */
  readonly edgeCpuUsPerDelivery: number;
  /** Of that, the edge's main process alone (with WebSocket workers: the front, without them). */
  readonly edgeMainCpuUsPerDelivery: number;
  /** How long after the feeder stopped the last frame arrived (ms); the backlog drained. */
  readonly drainMs: number;
  /** The feeder's worst lateness against its schedule (ms): high means the machine was saturated. */
  readonly feederLateMs: number;
  /**
   * What data-ingest did with the measured run's kline updates (trading-algo runs), from its
   * `/metrics`: open-candle updates published downstream, and updates not published as duplicates
   * or stale. Sent minus these two is what it held and replaced by a newer update (a gap fill).
   */
  readonly ingestKlines?: { readonly published: number; readonly duplicate: number; readonly stale: number };
}

export interface KlineCounts {
  readonly published: number;
  readonly duplicate: number;
  readonly stale: number;
}

/** Sums data-ingest's kline counters over its streams, from its Prometheus text. */
export async function klineCounts(metricsUrl: string): Promise<KlineCounts> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  const sum = (name: string, label: string): number => {
    let total = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) && line.includes('@kline_') && line.includes(label))
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  };
  return {
    published: sum('ingest_events_published_total', 'kind="candle_open"'),
    duplicate: sum('ingest_events_deduplicated_total', 'reason="duplicate"'),
    stale: sum('ingest_events_deduplicated_total', 'reason="stale"'),
  };
}

const SYMBOLS = 'BTCUSDT,ETHUSDT,BNBBTC';

async function startEdge(
  edge: EdgeKind,
  feedUrl: string,
  restUrl: string,
  feeder: Child,
  env: Readonly<Record<string, string>>,
  root: string,
  nodeArgs: readonly string[],
): Promise<{ child: Child; url: string; others: Child[]; ingestMetrics?: string }> {
  if (edge === 'floor') {
    const upstream = `${feedUrl}/ws/${SYMBOLS.toLowerCase()
      .split(',')
      .map((s) => `${s}@trade`)
      .join('/')}`;
    const child = new Child('floor relay', `${HERE}floor-relay.ts`, { BENCH_UPSTREAM: upstream }, nodeArgs);
    const { port } = await child.next<{ type: 'listening'; port: number }>('listening', 30_000);
    await feeder.next('feed', 10_000);
    return { child, url: `ws://127.0.0.1:${port}`, others: [] };
  }
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const child = new Child(
    'data-ingest',
    `${root}services/data-ingest/src/main.ts`,
    {
      BINANCE_WS_URL: feedUrl,
      BINANCE_REST_URL: restUrl,
      SYMBOLS,
      INTERVALS: '1m',
      TRADES: 'true',
      HISTORY_CANDLES: '10',
      INGEST_HOST: '127.0.0.1',
      INGEST_HTTP_PORT: String(httpPort),
      INGEST_GRPC_PORT: String(grpcPort),
      WS_MAX_CLIENTS: '20000',
      WS_MAX_CLIENTS_PER_ADDRESS: '0',
      UPSTREAM_STALE_MS: '600000',
      ...env,
    },
    nodeArgs,
  );
  await feeder.next('feed', 60_000);
  await waitHttpOk(`http://127.0.0.1:${httpPort}/healthz`, 60_000);
  if (edge === 'data-ingest') return { child, url: `ws://127.0.0.1:${httpPort}/ws`, others: [] };
  const algoPort = await freePort();
  const algo = new Child(
    'trading-algo',
    `${root}services/trading-algo/src/main.ts`,
    {
      INGEST_GRPC_URL: `127.0.0.1:${grpcPort}`,
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: String(algoPort),
      WS_MAX_CLIENTS: '20000',
      WS_MAX_CLIENTS_PER_ADDRESS: '0',
      ...env,
    },
    nodeArgs,
  );
  try {
    await waitHttpOk(`http://127.0.0.1:${algoPort}/readyz`, 120_000);
  } catch (err) {
    await algo.stop();
    await child.stop();
    throw err;
  }
  return {
    child: algo,
    url: `ws://127.0.0.1:${algoPort}/ws`,
    others: [child],
    ingestMetrics: `http://127.0.0.1:${httpPort}/metrics`,
  };
}

export async function stats(clients: Child): Promise<Extract<ClientsReport, { type: 'stats' }>> {
  clients.send({ type: 'stats' });
  // A clients process swamped by a backlog answers late; bounded all the same.
  return clients.next('stats', 120_000);
}

/** Waits until `expected` frames arrived or none came for `quietMs`; returns when the last came. */
export async function drain(
  clients: Child,
  expected: number,
  quietMs: number,
  capMs: number,
): Promise<number> {
  const start = Date.now();
  let last = -1;
  let lastChange = start;
  while (Date.now() - start < capMs) {
    const s = await stats(clients);
    if (s.received !== last) {
      last = s.received;
      lastChange = Date.now();
    }
    if (s.received >= expected || Date.now() - lastChange > quietMs) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return lastChange - start;
}

export async function edgeRun(options: EdgeRunOptions): Promise<EdgeRunResult> {
  const children: Child[] = [];
  try {
    const feeder = new Child('feeder', `${HERE}feeder.ts`, { BENCH_SYMBOLS: SYMBOLS });
    children.push(feeder);
    const { feedUrl, restUrl } = await feeder.next<Extract<FeederReport, { type: 'listening' }>>(
      'listening',
      60_000,
    );
    const edge = await startEdge(
      options.edge,
      feedUrl,
      restUrl,
      feeder,
      options.env ?? {},
      options.root ?? ROOT,
      options.nodeArgs ?? [],
    );
    children.push(...edge.others, edge.child);
    await new Promise((r) => setTimeout(r, 1_000));
    const idle = edge.child.memory();
    const clientOptions: ClientsOptions = {
      url: edge.url,
      clients: options.clients,
      kind: options.edge === 'trading-algo' ? 'indicator' : 'trade',
      stalled: options.stalledClients ?? 0,
    };
    const reading = options.clients - (options.stalledClients ?? 0);
    const klinesPerSecond = options.klinesPerSecond ?? 0;
    const clients = new Child('clients', `${HERE}clients.ts`, {
      BENCH_CLIENTS: JSON.stringify(clientOptions),
    });
    children.push(clients);
    const connected = await clients.next<Extract<ClientsReport, { type: 'connected' }>>('connected', 180_000);
    if (connected.failed > 0)
      throw new Error(`${connected.failed} of ${options.clients} clients failed to connect`);
    await new Promise((r) => setTimeout(r, 500));
    const withClients = edge.child.memory();

    // Warm-up (JIT, buffers), not counted in latency.
    const warmSeconds = Math.min(2, options.seconds);
    feeder.send({
      type: 'run',
      tradesPerSecond: options.tradesPerSecond,
      klinesPerSecond,
      seconds: warmSeconds,
    });
    const warm = await feeder.next<Extract<FeederReport, { type: 'done' }>>(
      'done',
      warmSeconds * 1000 + 30_000,
    );
    const counted = (r: { trades: number; klines: number }) =>
      options.edge === 'trading-algo' ? r.klines : r.trades;
    await drain(clients, counted(warm) * reading, 5_000, 60_000);
    clients.send({ type: 'reset' });
    const before = await stats(clients);
    const cpuBefore = edge.child.cpuMs();
    const mainCpuBefore = edge.child.cpuMs(false);
    const klinesBefore = edge.ingestMetrics ? await klineCounts(edge.ingestMetrics) : undefined;

    feeder.send({
      type: 'run',
      tradesPerSecond: options.tradesPerSecond,
      klinesPerSecond,
      seconds: options.seconds,
    });
    const done = await feeder.next<Extract<FeederReport, { type: 'done' }>>(
      'done',
      options.seconds * 1000 + 60_000,
    );
    const expected = counted(done) * reading;
    const drainMs = await drain(clients, before.received + expected, 5_000, 120_000);
    const after = await stats(clients);
    const edgeCpuMs = edge.child.cpuMs() - cpuBefore;
    const edgeMainCpuMs = edge.child.cpuMs(false) - mainCpuBefore;
    const received = after.received - before.received;
    const memory = edge.child.memory();
    const klinesAfter = edge.ingestMetrics ? await klineCounts(edge.ingestMetrics) : undefined;
    return {
      edge: options.edge,
      clients: options.clients,
      tradesPerSecond: options.tradesPerSecond,
      seconds: options.seconds,
      sent: counted(done),
      expected,
      received,
      lost: Math.max(0, expected - received),
      outOfOrder: after.outOfOrder,
      clientsClosed: after.closed,
      stalledClients: options.stalledClients ?? 0,
      evenDelivery: after.minPerClient * reading === after.received,
      stalledClosed: after.stalledClosed,
      latency: after.latency,
      peakRssMb: memory.peakMb,
      rssIdleMb: idle.rssMb,
      rssConnectedMb: withClients.rssMb,
      kbPerClient: ((withClients.rssMb - idle.rssMb) * 1024) / options.clients,
      edgeCpuMs,
      edgeCpuUsPerDelivery: (edgeCpuMs * 1000) / Math.max(1, received),
      edgeMainCpuUsPerDelivery: (edgeMainCpuMs * 1000) / Math.max(1, received),
      drainMs,
      feederLateMs: done.lateMs,
      ...(klinesBefore && klinesAfter
        ? {
            ingestKlines: {
              published: klinesAfter.published - klinesBefore.published,
              duplicate: klinesAfter.duplicate - klinesBefore.duplicate,
              stale: klinesAfter.stale - klinesBefore.stale,
            },
          }
        : {}),
    };
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}
