/**
 * `npm run demo:cluster`: nats-server, the simulated exchange, two data-ingest, two trading-algo
 * workers, two gateways and the dashboard start, the first gateway answers on the demo's public
 * ports, one data-ingest killed with SIGKILL leaves the rest serving, and Ctrl-C stops everything.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
let runner: ChildProcess | undefined;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port, and a base whose cluster offsets (see run-services.mjs) are all free. */
async function freePorts(): Promise<{ base: number; ports: number[] }> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 400) * 100;
    const offsets = [80, 81, 51, 52, 90, 91, 151, 180, 190, 10, 11, 12, 13, 14, 15, 16];
    const ok = await Promise.all(offsets.map((o) => bindable(base + o)));
    if (ok.every(Boolean)) return { base, ports: offsets.slice(9).map((o) => base + o) };
  }
}

afterAll(() => {
  if (runner?.pid && runner.exitCode === null) process.kill(-runner.pid, 'SIGKILL');
});

async function json(url: string): Promise<unknown> {
  return (await fetch(url)).json();
}

describe('npm run demo:cluster', () => {
  it('runs the cluster on the demo ports, survives a SIGKILLed data-ingest, and stops on Ctrl-C', async () => {
    const scripts: unknown = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts;
    expect(scripts).toMatchObject({ 'demo:cluster': 'node scripts/run-services.mjs cluster' });
    const { base, ports } = await freePorts();
    const [sim, http, grpc, algo, dashboard, nats, monitor] = ports as [number, ...number[]];
    runner = spawn(process.execPath, ['scripts/run-services.mjs', 'cluster'], {
      cwd: root,
      env: {
        ...process.env,
        CLUSTER_PORT_BASE: String(base),
        SIM_PORT: String(sim),
        INGEST_HTTP_PORT: String(http),
        INGEST_GRPC_PORT: String(grpc),
        ALGO_HTTP_PORT: String(algo),
        DASHBOARD_PORT: String(dashboard),
        NATS_PORT: String(nats),
        NATS_MONITOR_PORT: String(monitor),
        SIM_SPEED: '60',
      },
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
    for (let i = 0; i < 240 && !output.includes('cluster is running') && runner.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(output).toContain('VisuALGO cluster is running');
    expect(output).toContain(`gateway-0    WebSocket ws://localhost:${http}/ws`);

    // The first gateway on the demo's ports, the dashboard in front of it.
    expect(await json(`http://127.0.0.1:${http}/readyz`)).toMatchObject({
      ready: true,
      exchange: 'binance-sim',
    });
    expect(await json(`http://127.0.0.1:${dashboard}/config.json`)).toMatchObject({
      algoWsUrl: `ws://127.0.0.1:${algo}/ws`,
    });
    const points = async () =>
      (
        (await json(`http://127.0.0.1:${algo}/api/indicators?stream=btcusdt@kline_1m&limit=3`)) as {
          points: { openTimeMs: number }[];
        }
      ).points;
    expect((await points()).length).toBe(3);

    // kill -9 one data-ingest: the other owns every shard too, and the gateway goes on serving new candles.
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(runner.pid)], {
      encoding: 'utf8',
    });
    const ingest = children
      .split('\n')
      .find((l) => l.includes('services/data-ingest/src/main.ts'))
      ?.trim()
      .split(/\s+/)[0];
    expect(ingest).toBeDefined();
    const before = (await points()).at(-1)?.openTimeMs ?? 0;
    process.kill(Number(ingest), 'SIGKILL');
    let after = before;
    for (let i = 0; i < 120 && after <= before + 60_000; i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = (await points()).at(-1)?.openTimeMs ?? 0;
    }
    expect(after).toBeGreaterThan(before + 60_000);
    expect(output).toContain('the rest of the cluster carries on');

    const pid = runner.pid;
    if (pid === undefined) throw new Error('runner has no pid');
    process.kill(-pid, 'SIGINT');
    expect(await exited).toBe(0);
    for (const service of [
      'dashboard',
      'gateway-0',
      'gateway-1',
      'trading-algo-0',
      'trading-algo-1',
      'sim-exchange',
    ]) {
      expect(output).toMatch(new RegExp(`${service}\\s+[│|] exited \\(code 0\\)`));
    }
  }, 180_000);
});
