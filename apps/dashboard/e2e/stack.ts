/**
 * Starts the real system for browser tests, the screenshot and the benchmark: the simulated
 * exchange, data-ingest, trading-algo (from source, with tsx) and the dashboard's production server
 * (serving the built page), each on a free loopback port, each as its own process so a test can
 * stop and restart one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it printed, for a failing test's message. */
  output(): string;
}

export interface StackOptions {
  /** Simulated market: fixed seed and start make the same market (and signals) every run. */
  readonly seed?: string;
  /** SIM_START: ISO-8601 or epoch ms. */
  readonly start?: string;
  readonly speed?: number;
  readonly historyCandles?: number;
}

export interface Stack {
  readonly ports: { sim: number; ingestHttp: number; ingestGrpc: number; algo: number; dashboard: number };
  readonly dashboardUrl: string;
  readonly algoUrl: string;
  readonly ingestUrl: string;
  readonly simUrl: string;
  /** Stops trading-algo (SIGTERM) and waits for it to exit. */
  stopAlgo(): Promise<void>;
  /** Starts trading-algo again on the same port and waits until it is ready. */
  startAlgo(): Promise<void>;
  logs(): string;
  close(): Promise<void>;
}

const TSX_IMPORT = ['--import', 'tsx'];

function startService(name: string, script: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [...TSX_IMPORT, script], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += String(d);
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name, child, output: () => out };
}

/** Polls a health URL until it answers 200; the process exiting first is a failure with its output. */
async function waitHealthy(service: ServiceProcess, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) {
      throw new Error(`${service.name} exited with ${service.child.exitCode}:\n${service.output()}`);
    }
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${service.name}: ${url} not healthy within ${timeoutMs} ms:\n${service.output()}`);
}

async function stop(service: ServiceProcess): Promise<void> {
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
  await exited;
  clearTimeout(timer);
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const built = `${repoRoot}apps/dashboard/dist/public/index.html`;
  if (!existsSync(built)) throw new Error(`${built} missing: run npm run build -w @visualgo/dashboard first`);
  const [sim, ingestHttp, ingestGrpc, algo, dashboard] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const ports = { sim, ingestHttp, ingestGrpc, algo, dashboard };
  const dashboardOrigin = `http://127.0.0.1:${dashboard}`;
  const services: ServiceProcess[] = [];
  const algoEnv = {
    INGEST_GRPC_URL: `127.0.0.1:${ingestGrpc}`,
    ALGO_HOST: '127.0.0.1',
    ALGO_HTTP_PORT: String(algo),
    CORS_ALLOWED_ORIGINS: dashboardOrigin,
  };
  let algoService: ServiceProcess | null = null;
  const algoUrl = `http://127.0.0.1:${algo}`;
  const startAlgo = async () => {
    algoService = startService('trading-algo', 'services/trading-algo/src/main.ts', algoEnv);
    services.push(algoService);
    await waitHealthy(algoService, `${algoUrl}/readyz`);
  };
  try {
    const simService = startService('sim-exchange', 'services/sim-exchange/src/main.ts', {
      SIM_HOST: '127.0.0.1',
      SIM_PORT: String(sim),
      SIM_SEED: options.seed ?? 'visualgo',
      SIM_SPEED: String(options.speed ?? 1),
      SIM_CONTROL_API: 'true',
      ...(options.start ? { SIM_START: options.start } : {}),
    });
    services.push(simService);
    await waitHealthy(simService, `http://127.0.0.1:${sim}/api/v3/ping`);
    const ingest = startService('data-ingest', 'services/data-ingest/src/main.ts', {
      MARKET_SOURCE: 'sim',
      SIM_URL: `http://127.0.0.1:${sim}`,
      INGEST_HOST: '127.0.0.1',
      INGEST_HTTP_PORT: String(ingestHttp),
      INGEST_GRPC_PORT: String(ingestGrpc),
      HISTORY_CANDLES: String(options.historyCandles ?? 1000),
      CORS_ALLOWED_ORIGINS: dashboardOrigin,
    });
    services.push(ingest);
    await waitHealthy(ingest, `http://127.0.0.1:${ingestHttp}/readyz`);
    await startAlgo();
    const dash = startService('dashboard', 'apps/dashboard/server/main.ts', {
      DASHBOARD_HOST: '127.0.0.1',
      DASHBOARD_PORT: String(dashboard),
      DASHBOARD_ALGO_PORT: String(algo),
      DASHBOARD_INGEST_PORT: String(ingestHttp),
    });
    services.push(dash);
    await waitHealthy(dash, `${dashboardOrigin}/healthz`);
  } catch (err) {
    for (const s of [...services].reverse()) await stop(s);
    throw err;
  }
  return {
    ports,
    dashboardUrl: `${dashboardOrigin}/`,
    algoUrl,
    ingestUrl: `http://127.0.0.1:${ingestHttp}`,
    simUrl: `http://127.0.0.1:${sim}`,
    stopAlgo: async () => {
      if (algoService) await stop(algoService);
    },
    startAlgo,
    logs: () => services.map((s) => `--- ${s.name}\n${s.output()}`).join('\n'),
    close: async () => {
      for (const s of [...services].reverse()) await stop(s);
    },
  };
}
