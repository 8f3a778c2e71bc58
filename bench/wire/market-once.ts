/**
 * One market-shaped end-to-end run from the command line, printed as JSON:
 * `node --import tsx bench/wire/market-once.ts [symbols] [trades/s] [klines/s] [seconds] [checkout root]`
 * (defaults 2000 5000 1000 60). `BENCH_HISTORY_MINUTES` sets the history each symbol has (default
 * 600), `BENCH_WARM_SECONDS` the warm-up before the window (default 10).
 * `BENCH_INGEST_NODE_ARGS` / `BENCH_ALGO_NODE_ARGS` (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
 * pass Node flags to data-ingest / trading-algo.
 */
import { marketRun } from './market-run.js';

const [symbols, trades, klines, seconds, root] = process.argv.slice(2);
const args = (v: string | undefined) => (v ? { nodeArgs: v.split(' ') } : undefined);
const ingestArgs = args(process.env.BENCH_INGEST_NODE_ARGS);
const algoArgs = args(process.env.BENCH_ALGO_NODE_ARGS);
const result = await marketRun({
  symbols: Number(symbols ?? 2000),
  tradesPerSecond: Number(trades ?? 5000),
  klinesPerSecond: Number(klines ?? 1000),
  seconds: Number(seconds ?? 60),
  historyMinutes: Number(process.env.BENCH_HISTORY_MINUTES ?? 600),
  warmSeconds: Number(process.env.BENCH_WARM_SECONDS ?? 10),
  ...(ingestArgs ? { ingestNodeArgs: ingestArgs.nodeArgs } : {}),
  ...(algoArgs ? { algoNodeArgs: algoArgs.nodeArgs } : {}),
  ...(root ? { root: root.endsWith('/') ? root : `${root}/` } : {}),
});
console.log(JSON.stringify(result, null, 2));
