/**
 * `npm run bench`: the quick mode CI runs (under two minutes): the WebSocket edge against the
 * plain-`ws` floor at a small load and the in-process fan-out benchmarks. It fails only on lost
 * or out-of-order messages, cut-off clients, a render per client, or a crash; timings are printed,
 * never gating, so a busy machine cannot fail it.
 *
 * `npm run bench -- --full`: every benchmark, each target a ratio against a baseline measured in
 * the same run, gating; the wire benchmark's full table (see docs/benchmarks.md). Writes
 * bench/results/<date>.json with the machine description.
 *
 * Both print the numbers and the checks and write bench/results/latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { domainBenchmarks } from './domain.bench.js';
import { edgeBenchmarks, machine } from './edge.bench.js';
import { fanoutBenchmarks } from './fanout.bench.js';
import { type Check, gates, passed } from './harness.js';
import { natsBenchmarks } from './nats.bench.js';
import { replayBenchmarks } from './replay.bench.js';
import { simBenchmarks } from './sim.bench.js';
import { workersBenchmarks } from './workers.bench.js';

const full = process.argv.includes('--full');
const startedAt = new Date();
const host = machine();
const results: { table: Record<string, number>; checks: Check[]; runs?: unknown[] }[] = [];
if (full) results.push(domainBenchmarks());
results.push(await fanoutBenchmarks(full));
results.push(await edgeBenchmarks(full));
results.push(await workersBenchmarks(full));
if (full) {
  results.push(simBenchmarks());
  results.push(await replayBenchmarks());
  results.push(await natsBenchmarks());
}

const table = Object.assign({}, ...results.map((r) => r.table)) as Record<string, number>;
const checks = results.flatMap((r) => r.checks);
console.log(`\nMeasurements (${full ? 'full' : 'quick'})`);
for (const [k, v] of Object.entries(table)) console.log(`  ${k.padEnd(66)} ${v.toFixed(v < 10 ? 3 : 1)}`);
console.log('\nChecks (ratios within one run; "info" never fails the run)');
for (const c of checks) {
  const target = `${c.atLeast ? '>=' : '<='} ${c.limit}`;
  const verdict = passed(c) ? 'PASS' : gates(c) ? 'FAIL' : 'miss';
  console.log(
    `  ${verdict}${gates(c) ? '     ' : ' info'}  ${c.name.padEnd(60)} ${c.ratio.toFixed(2).padStart(9)} (${target})  ${c.detail}`,
  );
}
const report = {
  mode: full ? 'full' : 'quick',
  date: startedAt.toISOString(),
  machine: { ...host, loadAverage1mAtEnd: machine().loadAverage1m },
  table,
  checks,
  runs: results.flatMap((r) => r.runs ?? []),
};
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
const json = `${JSON.stringify(report, null, 2)}\n`;
writeFileSync(new URL('results/latest.json', import.meta.url), json);
if (full)
  writeFileSync(new URL(`results/${startedAt.toISOString().slice(0, 10)}.json`, import.meta.url), json);
const failed = checks.filter((c) => gates(c) && !passed(c));
console.log(`\n${checks.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length > 0 ? 1 : 0);
