/**
 * `npm run bench`: runs every benchmark, prints a table of raw numbers and the checks, each a
 * ratio against a baseline measured in the same run, writes bench/results/latest.json, and exits
 * non-zero when a check misses its target.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { domainBenchmarks } from './domain.bench.js';
import { fanoutBenchmarks } from './fanout.bench.js';
import { type Check, passed } from './harness.js';
import { natsBenchmarks } from './nats.bench.js';
import { replayBenchmarks } from './replay.bench.js';
import { simBenchmarks } from './sim.bench.js';

const results: { table: Record<string, number>; checks: Check[] }[] = [];
results.push(domainBenchmarks());
results.push(await fanoutBenchmarks());
results.push(simBenchmarks());
results.push(await replayBenchmarks());
results.push(await natsBenchmarks());

const table = Object.assign({}, ...results.map((r) => r.table)) as Record<string, number>;
const checks = results.flatMap((r) => r.checks);
console.log('\nMeasurements');
for (const [k, v] of Object.entries(table)) console.log(`  ${k.padEnd(58)} ${v.toFixed(v < 10 ? 3 : 1)}`);
console.log('\nChecks (ratios within one run)');
for (const c of checks) {
  const target = `${c.atLeast ? '>=' : '<='} ${c.limit}`;
  console.log(
    `  ${passed(c) ? 'PASS' : 'FAIL'}  ${c.name.padEnd(44)} ${c.ratio.toFixed(2).padStart(9)} (${target})  ${c.detail}`,
  );
}
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('results/latest.json', import.meta.url),
  `${JSON.stringify({ node: process.version, date: new Date().toISOString(), table, checks }, null, 2)}\n`,
);
const failed = checks.filter((c) => !passed(c));
console.log(`\n${checks.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length > 0 ? 1 : 0);
