/**
 * The chaos suite's bounded, seeded subset for CI: every scenario once, in order, against the
 * whole stack (the simulated exchange at 600x, data-ingest and trading-algo as processes, five
 * clients), then every client checked against the exchange's ground truth and the indicators
 * against a fault-free computation. `npm run chaos` runs the longer randomized mix; both are
 * described in docs/reliability.md.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from './run.js';
import { HEAP_BACK_WITHIN_BYTES, SCENARIOS } from './scenarios.js';

const MB = 1024 * 1024;

describe('chaos: every scenario once (seed ci-1)', () => {
  it('loses, doubles and changes nothing, and reports what it could not fill', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      seed: 'ci-1',
      scenarios: SCENARIOS,
      maxFaultMs: 3_000,
      burstMs: 10_000,
      log: (line) => lines.push(line),
    });
    const v = report.verification;
    const summary = JSON.stringify({ ...report, memory: undefined }, null, 1);
    console.log(
      `chaos (seed ${report.seed}): ${report.faultsInjected} faults ${JSON.stringify(report.faultsByKind)} in ${report.wallMs} ms; ${JSON.stringify({ candles: v.candles, trades: { ...v.trades, sessionEnds: undefined }, binanceWs: v.binanceWs, indicators: v.indicators, algo: v.algo })}`,
    );
    expect(v.problems, `${summary}\n${lines.join('\n')}`).toEqual([]);

    // Every scenario injected at least one fault, and the run checked a real amount of data.
    for (const s of report.scenarios) expect(s.faults, s.name).toBeGreaterThan(0);
    expect(v.candles.checked).toBeGreaterThan(300);
    expect(v.trades.checked).toBeGreaterThan(3_000);
    expect(v.binanceWs.checked).toBeGreaterThan(300);
    expect(v.indicators.served).toBe(3_000);
    expect([v.candles.lost, v.candles.doubled, v.candles.wrong]).toEqual([0, 0, 0]);
    expect([v.trades.lost, v.trades.doubled, v.trades.wrong]).toEqual([0, 0, 0]);
    expect([v.binanceWs.lost, v.binanceWs.wrong, v.binanceWs.outOfOrder]).toEqual([0, 0, 0]);
    expect([v.indicators.different, v.indicators.wsLost, v.indicators.wsBreaks]).toEqual([0, 0, 0]);
    expect([v.algo.rejectedCandles, v.algo.feedHoles]).toEqual([0, 0]);
    expect(v.ingestProcesses).toBe(3); // started, after kill-ingest, after kill-both
    expect(v.algo.processes).toBe(3);

    // The burst: memory bounded while it lasts, and back afterwards (heap in use, which a
    // collection returns; RSS is reported in docs/reliability.md). The scenario samples after the
    // burst until the heap is back or a deadline passes, so this fails only on a heap that stayed up.
    const before = report.memory.find((m) => m.phase === 'before');
    if (!before) throw new Error('no memory sample before the burst');
    const burst = report.memory.filter((m) => m.phase === 'burst');
    const after = report.memory.filter((m) => m.phase === 'after');
    expect(burst.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    for (const which of ['ingest', 'algo'] as const) {
      const base = before[which];
      if (!base) throw new Error(`no ${which} memory before the burst`);
      for (const m of burst) expect(m[which]?.rssBytes ?? 0, which).toBeLessThan(base.rssBytes + 400 * MB);
      // The heap in use goes up and down with collections: its low point after the burst.
      const low = Math.min(...after.map((m) => m[which]?.heapUsedBytes ?? Number.POSITIVE_INFINITY));
      const seen = after.map((m) => {
        const heap = m[which]?.heapUsedBytes;
        return `${((m.atMs - before.atMs) / 1000).toFixed(0)} s: ${heap === undefined ? 'down' : (heap / MB).toFixed(1)}`;
      });
      expect(
        low,
        `${which} heap in use (MB) by seconds since the burst began, ${(base.heapUsedBytes / MB).toFixed(1)} before it: ${seen.join(', ')}`,
      ).toBeLessThan(base.heapUsedBytes + HEAP_BACK_WITHIN_BYTES);
      for (const m of after) expect(m[which]?.handles ?? 0, which).toBeLessThanOrEqual(base.handles + 4);
    }
  }, 600_000);
});
