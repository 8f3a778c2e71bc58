/**
 * One wire-benchmark run from the command line, printed as JSON:
 * `node --import tsx bench/wire/edge-once.ts <data-ingest|floor|trading-algo> <clients> <trades/s> <seconds> [checkout root]`
 * (a root runs data-ingest from another checkout, e.g. an earlier commit, against the same harness).
 * `BENCH_STALLED=1` makes that many clients stop reading once connected (slow consumers).
 * `BENCH_KLINES=100` adds kline updates per second (what trading-algo turns into indicators).
 * `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` passes Node flags to the edge process.
 * `BENCH_WS_WORKERS=2` runs data-ingest's WebSocket edge in that many worker processes (`WS_WORKERS`).
 */
import { type EdgeKind, edgeRun } from './edge-run.js';

const [edge, clients, rate, seconds, root] = process.argv.slice(2);
if (edge !== 'data-ingest' && edge !== 'floor' && edge !== 'trading-algo') {
  console.error(
    'usage: edge-once.ts <data-ingest|floor|trading-algo> <clients> <trades/s> <seconds> [checkout root]',
  );
  process.exit(2);
}
const result = await edgeRun({
  edge: edge satisfies EdgeKind,
  clients: Number(clients ?? 100),
  tradesPerSecond: Number(rate ?? 100),
  seconds: Number(seconds ?? 5),
  ...(root ? { root: root.endsWith('/') ? root : `${root}/` } : {}),
  klinesPerSecond: Number(process.env.BENCH_KLINES ?? 0),
  stalledClients: Number(process.env.BENCH_STALLED ?? 0),
  ...(process.env.BENCH_NODE_ARGS ? { nodeArgs: process.env.BENCH_NODE_ARGS.split(' ') } : {}),
  ...(process.env.BENCH_WS_WORKERS ? { env: { WS_WORKERS: process.env.BENCH_WS_WORKERS } } : {}),
});
console.log(JSON.stringify(result));
