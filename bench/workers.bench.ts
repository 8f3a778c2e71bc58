/**
 * WebSocket workers (`WS_WORKERS`): the same edge, the same load, in one process and in worker
 * processes, back to back in one run (see bench/wire/). Quick mode (CI): one small run with two
 * workers, gating only on lost frames and cut-off clients, so the worker path is exercised end to
 * end through the real program. Full: what workers gain under fan-out load and cost at low load,
 * as ratios to the single-process edge measured in the same run (never gating: on a machine where
 * the clients and the feeder share the cores, the result depends on what else runs).
 */
import type { Check } from './harness.js';
import { type EdgeRunOptions, type EdgeRunResult, edgeRun } from './wire/edge-run.js';

export interface WorkersBenchResult {
  readonly table: Record<string, number>;
  readonly checks: Check[];
  readonly runs: EdgeRunResult[];
}

type Load = Pick<EdgeRunOptions, 'edge' | 'clients' | 'tradesPerSecond' | 'klinesPerSecond' | 'seconds'>;

const label = (l: Load, workers: number) =>
  `${l.edge} ${l.clients} clients x ${l.edge === 'trading-algo' ? `${l.klinesPerSecond} klines` : l.tradesPerSecond}/s, WS_WORKERS=${workers}`;

async function run(load: Load, workers: number, checks: Check[]): Promise<EdgeRunResult | null> {
  try {
    return await edgeRun({ ...load, env: { WS_WORKERS: String(workers) } });
  } catch (err) {
    checks.push({
      name: `run completed: ${label(load, workers)}`,
      ratio: 0,
      limit: 1,
      atLeast: true,
      detail: err instanceof Error ? err.message : String(err),
    });
    return null;
  }
}

function delivered(r: EdgeRunResult, load: Load, workers: number, gating: boolean): Check[] {
  return [
    {
      name: `every frame delivered: ${label(load, workers)}`,
      ratio: r.received / Math.max(1, r.expected),
      limit: 1,
      atLeast: true,
      detail: `received / sent x clients (${r.received} of ${r.expected}); out of order ${r.outOfOrder}, clients closed ${r.clientsClosed}`,
      gating,
    },
    {
      name: `no client cut off or out of order: ${label(load, workers)}`,
      ratio: r.clientsClosed + r.outOfOrder,
      limit: 0,
      detail: 'clients closed + frames out of order',
      gating: true,
    },
  ];
}

function record(table: Record<string, number>, r: EdgeRunResult, load: Load, workers: number): void {
  const k = label(load, workers);
  table[`${k}: p50 (ms)`] = r.latency.p50Ms;
  table[`${k}: p99 (ms)`] = r.latency.p99Ms;
  table[`${k}: CPU per delivery, all edge processes (us)`] = r.edgeCpuUsPerDelivery;
  table[`${k}: CPU per delivery, main process (us)`] = r.edgeMainCpuUsPerDelivery;
  table[`${k}: RSS idle, all edge processes (MB)`] = r.rssIdleMb;
}

export async function workersBenchmarks(full: boolean): Promise<WorkersBenchResult> {
  const table: Record<string, number> = {};
  const checks: Check[] = [];
  const runs: EdgeRunResult[] = [];
  if (!full) {
    const load: Load = { edge: 'data-ingest', clients: 100, tradesPerSecond: 200, seconds: 3 };
    const r = await run(load, 2, checks);
    if (r) {
      runs.push(r);
      record(table, r, load, 2);
      checks.push(...delivered(r, load, 2, true));
    }
    return { table, checks, runs };
  }
  const loads: Load[] = [
    // Low load: what the extra hop (pipe, wake-up, copy per worker) costs one client.
    { edge: 'data-ingest', clients: 1, tradesPerSecond: 10, seconds: 10 },
    { edge: 'data-ingest', clients: 100, tradesPerSecond: 1_000, seconds: 10 },
    { edge: 'data-ingest', clients: 1_000, tradesPerSecond: 100, seconds: 10 },
    { edge: 'data-ingest', clients: 1_000, tradesPerSecond: 1_000, seconds: 10 },
    { edge: 'trading-algo', clients: 1_000, tradesPerSecond: 0, klinesPerSecond: 100, seconds: 10 },
  ];
  for (const load of loads) {
    const single = await run(load, 0, checks);
    const workers = await run(load, 2, checks);
    for (const [r, n] of [
      [single, 0],
      [workers, 2],
    ] as const) {
      if (!r) continue;
      runs.push(r);
      record(table, r, load, n);
      const deliverable = load.edge === 'data-ingest' && load.clients * load.tradesPerSecond < 1_000_000;
      checks.push(...delivered(r, load, n, deliverable));
    }
    if (!single || !workers) continue;
    const what = label(load, 2).replace(/, WS_WORKERS=2$/, '');
    checks.push(
      {
        name: `p99 with 2 workers against one process, ${what}`,
        ratio: workers.latency.p99Ms / single.latency.p99Ms,
        limit: 1,
        detail: `p99 WS_WORKERS=2 / WS_WORKERS=0 (${workers.latency.p99Ms} / ${single.latency.p99Ms} ms)`,
        gating: false,
      },
      {
        name: `p50 with 2 workers against one process, ${what}`,
        ratio: workers.latency.p50Ms / single.latency.p50Ms,
        limit: 1,
        detail: `p50 WS_WORKERS=2 / WS_WORKERS=0 (${workers.latency.p50Ms} / ${single.latency.p50Ms} ms)`,
        gating: false,
      },
    );
  }
  return { table, checks, runs };
}
