/**
 * Memory of the running services as a user sees it: the simulated exchange, data-ingest and
 * trading-algo started as processes (as `npm run demo` does) for N symbols, each service's
 * resident set size (RSS) read from /proc once both are ready and settled, and the history each
 * holds read from its /metrics. Run twice in the same process, with few and with many symbols, the
 * difference is what the history of the added streams costs.
 *
 *   node --import tsx bench/services-memory.ts [--symbols 300] [--root <checkout>]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface ServicesMemory {
  readonly symbols: number;
  readonly ingestRssMiB: number;
  readonly algoRssMiB: number;
  /** Closed candles data-ingest holds (null when the checkout does not report it). */
  readonly ingestHeldCandles: number | null;
  readonly algoHeldPoints: number | null;
  readonly readyAfterMs: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function waitOk(url: string, deadlineMs: number): Promise<void> {
  while (Date.now() < deadlineMs) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready in time`);
}

async function gauge(metricsUrl: string, name: string): Promise<number | null> {
  const text = await (await fetch(metricsUrl)).text();
  // `name 42` or `name{service="data-ingest"} 42`
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

/** Starts the three services from `root` for `symbols` symbols and reads their memory. */
export async function measureServices(
  root: string,
  symbols: number,
  settleMs = 15_000,
): Promise<ServicesMemory> {
  const names = Array.from({ length: symbols }, (_, i) => `s${String(i).padStart(3, '0')}usdt`);
  const [simPort, httpPort, grpcPort, algoPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const children: ChildProcess[] = [];
  const start = (service: string, env: Record<string, string>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/src/main.ts`], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn', LOG_PRETTY: 'false', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  };
  const t0 = Date.now();
  try {
    start('sim-exchange', {
      SIM_PORT: String(simPort),
      SIM_SYMBOLS: names.join(','),
      SIM_HISTORY_DAYS: '3',
      SIM_CONTROL_API: 'false',
    });
    await waitOk(`http://127.0.0.1:${simPort}/api/v3/ping`, Date.now() + 60_000);
    const ingest = start('data-ingest', {
      MARKET_SOURCE: 'sim',
      SIM_URL: `http://127.0.0.1:${simPort}`,
      SYMBOLS: names.join(','),
      INGEST_HOST: '127.0.0.1',
      INGEST_HTTP_PORT: String(httpPort),
      INGEST_GRPC_PORT: String(grpcPort),
    });
    await waitOk(`http://127.0.0.1:${httpPort}/readyz`, Date.now() + 300_000);
    const algo = start('trading-algo', {
      INGEST_GRPC_URL: `127.0.0.1:${grpcPort}`,
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: String(algoPort),
    });
    await waitOk(`http://127.0.0.1:${algoPort}/readyz`, Date.now() + 600_000);
    const readyAfterMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, settleMs));
    return {
      symbols,
      ingestRssMiB: rssMiB(ingest.pid ?? 0),
      algoRssMiB: rssMiB(algo.pid ?? 0),
      ingestHeldCandles: await gauge(`http://127.0.0.1:${httpPort}/metrics`, 'ingest_history_held_candles'),
      algoHeldPoints: await gauge(`http://127.0.0.1:${algoPort}/metrics`, 'algo_history_points'),
      readyAfterMs,
    };
  } finally {
    for (const child of children.reverse()) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve())),
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const root = arg('root') ?? new URL('..', import.meta.url).pathname;
  const many = Number(arg('symbols') ?? '300');
  const few = await measureServices(root, 3);
  const lots = await measureServices(root, many);
  console.log(JSON.stringify({ root, few, many: lots }, null, 2));
}
