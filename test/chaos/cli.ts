/**
 * `npm run chaos`: a randomized mix of the chaos scenarios against the whole stack, checked
 * against the exchange's ground truth at the end. Prints the seed first, so any run can be played
 * again.
 *
 *   npm run chaos                               # every scenario in a seeded random order, 5 minutes
 *   npm run chaos -- --seed 42                  # the same run again
 *   npm run chaos -- --scenario kill-ingest     # one scenario (repeatable), played in a loop
 *   npm run chaos -- --duration 20m             # a longer mix
 *   npm run chaos -- --soak 30m                 # memory and handles reported every minute
 *   npm run chaos -- --list                     # the scenarios and what each proves
 *
 * Exits 1 when any check fails, with the problems listed.
 */
import { parseArgs } from 'node:util';
import { runChaos } from './run.js';
import { SCENARIOS, scenarioNamed } from './scenarios.js';

function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use 90s, 5m, 1h)`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    scenario: { type: 'string', multiple: true },
    duration: { type: 'string' },
    soak: { type: 'string' },
    speed: { type: 'string' },
    'burst-seconds': { type: 'string' },
    'max-fault-seconds': { type: 'string' },
    list: { type: 'boolean' },
    json: { type: 'boolean' },
  },
});

if (values.list) {
  for (const s of SCENARIOS) console.log(`${s.name.padEnd(22)} ${s.kind.padEnd(9)} ${s.proves}`);
  process.exit(0);
}

const seed = values.seed ?? String(Math.floor(Math.random() * 2 ** 31));
const scenarios = (values.scenario ?? []).map(scenarioNamed);
const soakMs = values.soak ? durationMs(values.soak) : undefined;
const runMs = soakMs ?? (values.duration ? durationMs(values.duration) : 5 * 60_000);
const MB = 1024 * 1024;
const started = Date.now();
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s]`;
console.log(
  `chaos: seed ${seed} (play it again with --seed ${seed}), ${runMs / 1000} s${soakMs ? ' soak' : ''}`,
);

try {
  const report = await runChaos({
    seed,
    scenarios: scenarios.length > 0 ? scenarios : SCENARIOS,
    durationMs: runMs,
    ...(values.speed ? { speed: Number(values.speed) } : {}),
    ...(values['burst-seconds'] ? { burstMs: Number(values['burst-seconds']) * 1_000 } : {}),
    ...(values['max-fault-seconds'] ? { maxFaultMs: Number(values['max-fault-seconds']) * 1_000 } : {}),
    ...(soakMs ? { sampleEveryMs: 60_000 } : {}),
    log: (line) => console.log(`${stamp()} ${line}`),
  });
  if (values.json) console.log(JSON.stringify(report, null, 2));
  const v = report.verification;
  console.log(`\nchaos: seed ${report.seed}, speed ${report.speed}x, ${(report.wallMs / 1000).toFixed(0)} s`);
  console.log(
    `scenarios played: ${report.scenarios.length} (${[...new Set(report.scenarios.map((s) => s.name))].join(', ')})`,
  );
  console.log(`faults injected: ${report.faultsInjected} ${JSON.stringify(report.faultsByKind)}`);
  console.log(
    `candles (gRPC closed_only): ${v.candles.checked} checked, lost ${v.candles.lost}, doubled ${v.candles.doubled}, wrong ${v.candles.wrong}, reported unfilled ${v.candles.reportedUnfilled}`,
  );
  console.log(
    `trades (gRPC): ${v.trades.checked} checked in ${v.trades.sessions} sessions, lost ${v.trades.lost}, doubled ${v.trades.doubled}, wrong ${v.trades.wrong}, reported unfilled ${v.trades.reportedUnfilled}; not served between sessions ${v.trades.notServedAcrossRestarts} (sessions cut off as slow under load: ${v.trades.cutOffAsSlow})`,
  );
  console.log(
    `Binance WebSocket client: ${v.binanceWs.checked} candles checked, lost ${v.binanceWs.lost}, wrong ${v.binanceWs.wrong}, out of order ${v.binanceWs.outOfOrder}`,
  );
  console.log(
    `indicators: ${v.indicators.served} served by /api/indicators and ${v.indicators.wsPoints} held by the /ws client, ${v.indicators.different} different from a fault-free run, /ws lost ${v.indicators.wsLost}`,
  );
  console.log(
    `trading-algo: ${v.algo.processes} processes, candles rejected ${v.algo.rejectedCandles}, feed holes ${v.algo.feedHoles}; data-ingest: ${v.ingestProcesses} processes`,
  );
  for (const m of report.memory) {
    if (!soakMs && m.phase === 'soak') continue;
    const fmt = (x: { rssBytes: number; heapUsedBytes: number; handles: number } | null) =>
      x
        ? `rss ${(x.rssBytes / MB).toFixed(0)} MB heap ${(x.heapUsedBytes / MB).toFixed(0)} MB handles ${x.handles}`
        : 'down';
    console.log(
      `memory ${m.phase.padEnd(6)} +${((m.atMs - started) / 1000).toFixed(0)} s  data-ingest ${fmt(m.ingest)}  trading-algo ${fmt(m.algo)}`,
    );
  }
  if (v.problems.length > 0) {
    console.log(`\nFAILED: ${v.problems.length} problems`);
    for (const p of v.problems.slice(0, 50)) console.log(`  ${p}`);
    process.exit(1);
  }
  console.log('\nOK: nothing lost, doubled or different');
  process.exit(0);
} catch (err) {
  console.error(`chaos: seed ${seed}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
