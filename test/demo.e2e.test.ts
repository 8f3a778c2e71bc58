/**
 * The README's run command: `npm run demo` starts the simulated exchange, data-ingest and
 * trading-algo, prints the URLs once all are ready, serves indicators computed from simulated
 * candles, and stops every service cleanly on Ctrl-C (SIGINT to the runner's process group).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
let runner: ChildProcess | undefined;

afterAll(() => {
  if (runner?.pid && runner.exitCode === null) process.kill(-runner.pid, 'SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

describe('npm run demo', () => {
  it('runs the whole system, serves indicators, and stops cleanly on Ctrl-C', async () => {
    // npm itself exits on the signal; the runner it starts is what must stop cleanly.
    const scripts: unknown = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts;
    expect(scripts).toMatchObject({ demo: 'node scripts/run-services.mjs demo' });
    const [sim, http, grpc, algo, dashboard] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    runner = spawn(process.execPath, ['scripts/run-services.mjs', 'demo'], {
      cwd: root,
      env: {
        ...process.env,
        SIM_PORT: String(sim),
        INGEST_HTTP_PORT: String(http),
        INGEST_GRPC_PORT: String(grpc),
        ALGO_HTTP_PORT: String(algo),
        DASHBOARD_PORT: String(dashboard),
        HISTORY_CANDLES: '100',
      },
      // Its own process group, as a terminal gives it, so the test can send Ctrl-C to the group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    runner.stdout?.on('data', (d) => {
      output += String(d);
    });
    runner.stderr?.on('data', (d) => {
      output += String(d);
    });
    const exited = new Promise<number | null>((resolve) => runner?.once('exit', (code) => resolve(code)));

    for (let i = 0; i < 120 && !output.includes('VisuALGO is running'); i++) {
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(output).toContain('VisuALGO is running (simulated exchange: prices are NOT real)');
    expect(output).toContain(`ws://localhost:${algo}/ws`);
    // The page's address comes first in the summary, and the page is served.
    const summary = output.slice(output.indexOf('VisuALGO is running'));
    expect(summary.split('\n')[1]).toContain(`dashboard    http://localhost:${dashboard}/`);
    const page = await fetch(`http://127.0.0.1:${dashboard}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app">');
    expect(await (await fetch(`http://127.0.0.1:${dashboard}/config.json`)).json()).toMatchObject({
      algoWsUrl: `ws://127.0.0.1:${algo}/ws`,
    });

    const res = await fetch(`http://127.0.0.1:${algo}/api/indicators?stream=btcusdt@kline_1m&limit=5`);
    expect(res.status).toBe(200);
    const body: unknown = await res.json();
    expect(body).toMatchObject({ stream: 'btcusdt@kline_1m', exchange: 'binance-sim' });
    const health = await (await fetch(`http://127.0.0.1:${http}/healthz`)).json();
    expect(health).toMatchObject({ exchange: 'binance-sim', ready: true });

    const pid = runner.pid;
    if (pid === undefined) throw new Error('runner has no pid');
    process.kill(-pid, 'SIGINT');
    expect(await exited).toBe(0);
    for (const service of ['dashboard', 'trading-algo', 'data-ingest', 'sim-exchange']) {
      expect(output).toMatch(new RegExp(`${service}\\s+[│|] exited \\(code 0\\)`));
    }
  }, 90_000);
});
