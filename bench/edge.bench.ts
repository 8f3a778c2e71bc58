/**
 * The WebSocket edge measured from outside: data-ingest's `/ws` fed a Binance-shaped stream by a
 * feeder process, clients in another process, against the plain-`ws` floor relay run back to back
 * in the same run with the same feeder and clients (see bench/wire/). Quick mode (CI): one small
 * pair, gating only on lost frames and cut-off clients. Full: the table, idle clients by
 * the thousand, each pair's ratios, and end to end at a market's shape (market.bench.ts).
 */
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Check } from './harness.js';
import { attemptMarket, MARKET, marketChecks, recordMarket } from './market.bench.js';
import { type EdgeRunOptions, type EdgeRunResult, edgeRun } from './wire/edge-run.js';

export interface EdgeBenchResult {
  readonly table: Record<string, number>;
  readonly checks: Check[];
  readonly runs: unknown[];
}

interface Load {
  readonly clients: number;
  readonly tradesPerSecond: number;
  readonly seconds: number;
}

/** Trades a second, or for a run fed with kline updates alone (trading-algo's), those. */
const label = (l: Load & { readonly klinesPerSecond?: number }) =>
  l.tradesPerSecond === 0 && l.klinesPerSecond
    ? `${l.clients} clients x ${l.klinesPerSecond} klines/s`
    : `${l.clients} clients x ${l.tradesPerSecond}/s`;

/**
 * Every frame to every client. `gating` false where the edge cannot be expected to deliver it all:
 * trading-algo turns kline updates into indicators upstream of its fan-out, and 1,000 x 1,000 is
 * beyond what this machine can deliver (see docs/benchmarks.md).
 */
function deliveryCheck(r: EdgeRunResult, gating = true): Check {
  return {
    name: `every frame delivered: ${r.edge}, ${label(r)}`,
    ratio: r.received / Math.max(1, r.expected),
    limit: 1,
    atLeast: true,
    detail: `received / sent x reading clients (${r.received} of ${r.expected}); out of order ${r.outOfOrder}, clients closed ${r.clientsClosed}`,
    gating,
  };
}

/** What the fan-out hands one reading client it hands every one. */
function evenCheck(r: EdgeRunResult): Check {
  return {
    name: `every reading client got the same messages: ${r.edge}, ${label(r)}`,
    ratio: r.evenDelivery ? 1 : 0,
    limit: 1,
    atLeast: true,
    detail: 'least received by one client x reading clients = received by all',
  };
}

function intactCheck(r: EdgeRunResult): Check {
  return {
    name: `no client cut off or out of order: ${r.edge}, ${label(r)}`,
    ratio: r.clientsClosed + r.outOfOrder,
    limit: 0,
    detail: 'clients closed + frames out of order',
    gating: true,
  };
}

function record(table: Record<string, number>, r: EdgeRunResult): void {
  const k = `${r.edge} ${label(r)}`;
  table[`${k}: p50 (ms)`] = r.latency.p50Ms;
  table[`${k}: p99 (ms)`] = r.latency.p99Ms;
  table[`${k}: peak RSS (MB)`] = r.peakRssMb;
  table[`${k}: edge CPU per delivery (us)`] = r.edgeCpuUsPerDelivery;
  table[`${k}: drained after (ms)`] = r.drainMs;
}

/** A run that failed (a child crashed, a bound ran out) fails the benchmark, after the other runs. */
async function attempt(options: EdgeRunOptions, checks: Check[]): Promise<EdgeRunResult | null> {
  try {
    return await edgeRun(options);
  } catch (err) {
    checks.push({
      name: `run completed: ${options.edge}, ${label(options)}`,
      ratio: 0,
      limit: 1,
      atLeast: true,
      detail: err instanceof Error ? err.message : String(err),
    });
    return null;
  }
}

/** Our edge and the floor under one load, back to back; ratio checks are gating only in full mode. */
async function pair(load: Load, full: boolean, table: Record<string, number>, checks: Check[]) {
  const floor = await attempt({ edge: 'floor', ...load }, checks);
  const ours = await attempt({ edge: 'data-ingest', ...load }, checks);
  if (!floor || !ours) return { floor, ours };
  const deliverable = load.clients * load.tradesPerSecond < 1_000_000;
  for (const r of [floor, ours]) {
    record(table, r);
    checks.push(deliveryCheck(r, deliverable));
    if (deliverable) checks.push(intactCheck(r));
  }
  const ratio = (name: string, a: number, b: number, detail: string): Check => ({
    name: `${name}, ${label(load)}`,
    ratio: a / b,
    limit: 1,
    detail,
    gating: full,
  });
  checks.push(
    ratio(
      'p50 at or below the floor',
      ours.latency.p50Ms,
      floor.latency.p50Ms,
      'data-ingest p50 / floor p50',
    ),
    ratio(
      'p99 at or below the floor',
      ours.latency.p99Ms,
      floor.latency.p99Ms,
      'data-ingest p99 / floor p99',
    ),
    {
      name: `CPU per delivery against the floor, ${label(load)}`,
      ratio: ours.edgeCpuUsPerDelivery / floor.edgeCpuUsPerDelivery,
      limit: 1,
      detail: 'edge process CPU time per delivered frame, data-ingest / floor',
      gating: false,
    },
  );
  return { floor, ours };
}

export function machine(): Record<string, string | number> {
  const cpu = cpus();
  return {
    node: process.version,
    kernel: release(),
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    loadAverage1m: Number(loadavg()[0]?.toFixed(2)),
  };
}

export async function edgeBenchmarks(full: boolean): Promise<EdgeBenchResult> {
  const table: Record<string, number> = {};
  const checks: Check[] = [];
  const runs: EdgeRunResult[] = [];
  if (!full) {
    const { floor, ours } = await pair(
      { clients: 100, tradesPerSecond: 200, seconds: 3 },
      false,
      table,
      checks,
    );
    for (const r of [floor, ours]) if (r) runs.push(r);
    return { table, checks, runs };
  }
  for (const load of [
    { clients: 100, tradesPerSecond: 1_000, seconds: 10 },
    { clients: 1_000, tradesPerSecond: 100, seconds: 10 },
    { clients: 1_000, tradesPerSecond: 1_000, seconds: 10 },
  ]) {
    const { floor, ours } = await pair(load, true, table, checks);
    for (const r of [floor, ours]) if (r) runs.push(r);
  }
  for (const clients of [5_000, 10_000]) {
    const load = { clients, tradesPerSecond: 10, seconds: 5 };
    const { floor, ours } = await pair(load, true, table, checks);
    for (const r of [floor, ours]) if (r) runs.push(r);
    if (!floor || !ours) continue;
    table[`data-ingest ${clients} idle clients: RSS per client (KB)`] = ours.kbPerClient;
    table[`floor ${clients} idle clients: RSS per client (KB)`] = floor.kbPerClient;
    checks.push({
      name: `an idle client costs under 20 KB (${clients} clients)`,
      ratio: ours.kbPerClient,
      limit: 20,
      detail: 'data-ingest resident memory added by the connected clients / clients (KB)',
      gating: true,
    });
  }
  // One client that stops reading among 100 at 1,000 frames/s: the others' latency against the
  // same load with every client reading (the first pair above), and the stalled one cut off.
  const stalled = await attempt(
    {
      edge: 'data-ingest',
      clients: 101,
      stalledClients: 1,
      tradesPerSecond: 1_000,
      seconds: 10,
    },
    checks,
  );
  if (stalled) {
    runs.push(stalled);
    record(table, stalled);
    checks.push(deliveryCheck(stalled), intactCheck(stalled));
  }
  const reference = runs.find(
    (r) => r.edge === 'data-ingest' && r.clients === 100 && r.tradesPerSecond === 1_000,
  );
  if (stalled && reference) {
    checks.push({
      name: "one stalled client does not move the others' p99",
      ratio: stalled.latency.p99Ms / reference.latency.p99Ms,
      limit: 1.5,
      detail: `p99 of 100 reading clients with one stalled / without (${stalled.stalledClosed} of 1 stalled cut off during the run)`,
      gating: false,
    });
  }

  // trading-algo's edge at 1,000 clients; the plain relay at the same clients and rate ran above.
  const algo = await attempt(
    {
      edge: 'trading-algo',
      clients: 1_000,
      tradesPerSecond: 0,
      klinesPerSecond: 100,
      seconds: 10,
    },
    checks,
  );
  if (algo) {
    runs.push(algo);
    record(table, algo);
    checks.push(deliveryCheck(algo, false), evenCheck(algo), intactCheck(algo));
  }
  // End to end at a market's shape: all of Binance spot's ~2,000 symbols' 1m klines (an update of
  // each every 2 s, 1,000 a second, and each candle closed at its minute's end) and 5,000 trades a
  // second over their trade streams; one browser-like client following every stream.
  const market = await attemptMarket(MARKET, checks);
  if (!market) return { table, checks, runs };
  recordMarket(table, market);
  checks.push(...marketChecks(market));
  return { table, checks, runs: [...runs, market] };
}
