// Runs the system's services as child processes with prefixed, readable logs, prints their URLs
// once each is ready, and stops them all (SIGTERM, in reverse order) on Ctrl-C or when one dies.
//
//   node scripts/run-services.mjs demo   simulated exchange + data-ingest + trading-algo + dashboard
//   node scripts/run-services.mjs demo --replay <file or folder> [--replay <more>] [--speed 60|max] [--start <time>]
//                                        the same on recorded Binance data (public-data CSVs or zips)
//   node scripts/run-services.mjs live   data-ingest on live Binance + trading-algo + dashboard
//   node scripts/run-services.mjs cluster
//                                        nats-server (JetStream) + simulated exchange + 2 data-ingest
//                                        + 2 trading-algo workers + 2 gateways + dashboard; the first
//                                        gateway on the demo's public ports
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const USAGE =
  'usage: run-services.mjs demo [--replay <path>]... [--speed <n|max>] [--start <ISO time|epoch ms>] | live | cluster [--speed <n>]';

function parseArgs(argv) {
  const [mode = 'demo', ...rest] = argv;
  const options = { mode, replay: [], speed: undefined, start: undefined };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = eq > 0 ? arg.slice(eq + 1) : rest[++i];
    if (!['--replay', '--speed', '--start'].includes(name) || value === undefined || value === '') {
      throw new Error(`${arg}: unknown option or missing value`);
    }
    if (name === '--replay') options.replay.push(value);
    else options[name.slice(2)] = value;
  }
  if (mode !== 'demo' && mode !== 'live' && mode !== 'cluster') throw new Error(`unknown mode "${mode}"`);
  if (mode === 'live' && (options.replay.length > 0 || options.speed || options.start)) {
    throw new Error('--replay, --speed and --start go with demo');
  }
  if (mode === 'cluster' && options.replay.length > 0) throw new Error('--replay goes with demo');
  return options;
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
const { mode } = args;
const root = new URL('..', import.meta.url).pathname;
const env = process.env;
// npm runs scripts from the package root; relative paths are meant from where the user typed.
const userDir = env.INIT_CWD ?? process.cwd();
const replayPaths = [
  ...(env.SIM_REPLAY ?? '')
    .split(',')
    .filter((p) => p.trim() !== '')
    .map((p) => resolve(userDir, p.trim())),
  ...args.replay.map((p) => resolve(userDir, p)),
];
const replay = mode === 'demo' && replayPaths.length > 0;
const simPort = env.SIM_PORT ?? '9100';
const ingestHttp = env.INGEST_HTTP_PORT ?? '8080';
const ingestGrpc = env.INGEST_GRPC_PORT ?? '50051';
const algoHttp = env.ALGO_HTTP_PORT ?? '8090';
const dashboardPort = env.DASHBOARD_PORT ?? '3000';
// The backends let the dashboard's page read their /api/* (CORS) unless told otherwise.
const dashboardOrigins =
  env.CORS_ALLOWED_ORIGINS ?? `http://localhost:${dashboardPort},http://127.0.0.1:${dashboardPort}`;

/** Builds the dashboard's page when it is missing or older than its sources (about 3 s). */
function buildDashboardIfStale() {
  const app = join(root, 'apps/dashboard');
  const built = join(app, 'dist/public/index.html');
  const newest = (path) => {
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs;
    return Math.max(st.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
  };
  const sources = ['src', 'index.html', 'vite.config.ts', '../../packages/contracts/src'].map((p) =>
    join(app, p),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources.map(newest))) return;
  console.log('building the dashboard page (apps/dashboard/dist/public)...');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'],
    {
      cwd: app,
      stdio: 'inherit',
    },
  );
}

const start = args.start ?? env.SIM_START;
const sim = {
  name: 'sim-exchange',
  color: 35,
  env: {
    SIM_PORT: simPort,
    // A simulated market starts at the wall clock's millisecond (not floored to the minute), so
    // the lag the dashboard shows (exchange event time to screen) is the pipeline's own. A replay
    // starts where asked, or one day into its data.
    ...(replay ? {} : { SIM_START: start ?? String(Date.now()) }),
    ...(replay ? { SIM_REPLAY: replayPaths.join(','), ...(start ? { SIM_START: start } : {}) } : {}),
    ...(args.speed ? { SIM_SPEED: args.speed } : {}),
    // The demo prints the control API's URL and reads a replay's streams from it, so it turns it
    // on (it is off by default).
    SIM_CONTROL_API: env.SIM_CONTROL_API ?? 'true',
  },
  health: `http://127.0.0.1:${simPort}/api/v3/ping`,
};
const ingest = {
  name: 'data-ingest',
  color: 36,
  env: {
    MARKET_SOURCE: mode === 'demo' ? 'sim' : 'binance',
    SIM_URL: `http://127.0.0.1:${simPort}`,
    INGEST_HTTP_PORT: ingestHttp,
    INGEST_GRPC_PORT: ingestGrpc,
    CORS_ALLOWED_ORIGINS: dashboardOrigins,
  },
  health: `http://127.0.0.1:${ingestHttp}/readyz`,
};
const algo = {
  name: 'trading-algo',
  color: 33,
  env: {
    INGEST_GRPC_URL: `127.0.0.1:${ingestGrpc}`,
    ALGO_HTTP_PORT: algoHttp,
    CORS_ALLOWED_ORIGINS: dashboardOrigins,
  },
  health: `http://127.0.0.1:${algoHttp}/readyz`,
};
const dashboardService = {
  name: 'dashboard',
  color: 32,
  script: 'apps/dashboard/server/main.ts',
  env: {
    DASHBOARD_PORT: dashboardPort,
    DASHBOARD_ALGO_PORT: algoHttp,
    DASHBOARD_INGEST_PORT: ingestHttp,
  },
  health: `http://127.0.0.1:${dashboardPort}/healthz`,
};
const cluster = mode === 'cluster';
if (cluster) ingest.env.MARKET_SOURCE = 'sim';

/** nats-server: `NATS_SERVER_BIN`, Debian's package, or the PATH. */
function natsServerBinary() {
  if (env.NATS_SERVER_BIN) return env.NATS_SERVER_BIN;
  for (const path of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'])
    if (existsSync(path)) return path;
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error(
    'nats-server not found: install it (Debian: apt-get install -y nats-server) or set NATS_SERVER_BIN',
  );
}

/**
 * The cluster: one nats-server with JetStream (a fresh store in a temporary folder, removed on
 * exit), the exchange, two data-ingest instances owning every shard together (active-active), two
 * trading-algo workers (even and odd partitions), two gateways (the first on the demo's public
 * ports), and the dashboard in front of the first gateway. Internal ports from CLUSTER_PORT_BASE
 * (18000): +80/+81 data-ingest HTTP, +51/+52 its gRPC, +90/+91 the workers, +180/+151/+190 the
 * second gateway.
 */
function clusterServices() {
  const base = Number(env.CLUSTER_PORT_BASE ?? '18000');
  const port = (offset) => String(base + offset);
  const natsPort = env.NATS_PORT ?? '4222';
  const natsMonitor = env.NATS_MONITOR_PORT ?? '8222';
  const store = mkdtempSync(join(tmpdir(), 'visualgo-nats-'));
  process.on('exit', () => rmSync(store, { recursive: true, force: true }));
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  // One user per role, each allowed only what the role does (scripts/nats-server.conf).
  const natsAs = (user, password) => `nats://${user}:${password}@127.0.0.1:${natsPort}`;
  const nats = {
    name: 'nats-server',
    color: 34,
    command: [
      natsServerBinary(),
      '-js',
      '-a',
      '127.0.0.1',
      '-p',
      natsPort,
      '-m',
      natsMonitor,
      '-sd',
      store,
      '-n',
      'visualgo',
      '-c',
      join(root, 'scripts/nats-server.conf'),
    ],
    health: `http://127.0.0.1:${natsMonitor}/healthz`,
    url: natsUrl,
    monitor: `http://localhost:${natsMonitor}`,
  };
  const ingests = [0, 1].map((i) => ({
    name: `data-ingest-${i}`,
    color: 36,
    script: 'services/data-ingest/src/main.ts',
    env: {
      ...ingest.env,
      INGEST_HOST: '127.0.0.1',
      INGEST_HTTP_PORT: port(80 + i),
      INGEST_GRPC_PORT: port(51 + i),
      // trading-algo's warm-up at 1m reaches back up to 3,827 candles (docs/trading-algo.md).
      HISTORY_CANDLES: env.HISTORY_CANDLES ?? '4000',
      NATS_URL: natsAs('data-ingest', 'demo-ingest-secret'),
      INGEST_INSTANCES: '2',
      INGEST_INSTANCE: String(i),
    },
    health: `http://127.0.0.1:${port(80 + i)}/readyz`,
  }));
  const workers = [0, 1].map((i) => ({
    name: `trading-algo-${i}`,
    color: 33,
    script: 'services/trading-algo/src/main.ts',
    env: {
      NATS_URL: natsAs('trading-algo', 'demo-algo-secret'),
      MARKET_SOURCE: 'sim',
      ALGO_INSTANCES: '2',
      ALGO_INSTANCE: String(i),
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: port(90 + i),
    },
    health: `http://127.0.0.1:${port(90 + i)}/readyz`,
  }));
  const gatewayPorts = [
    { http: ingestHttp, grpc: ingestGrpc, algo: algoHttp },
    { http: port(180), grpc: port(151), algo: port(190) },
  ];
  const gateways = gatewayPorts.map((ports, i) => ({
    name: `gateway-${i}`,
    color: 32,
    script: 'services/gateway/src/main.ts',
    env: {
      NATS_URL: natsAs('gateway', 'demo-gateway-secret'),
      GATEWAY_NAME: `gateway-${i}`,
      MARKET_SOURCE: 'sim',
      SIM_URL: `http://127.0.0.1:${simPort}`,
      INGEST_HTTP_PORT: ports.http,
      INGEST_GRPC_PORT: ports.grpc,
      ALGO_HTTP_PORT: ports.algo,
      CORS_ALLOWED_ORIGINS: dashboardOrigins,
    },
    health: `http://127.0.0.1:${ports.http}/readyz`,
    ports,
  }));
  return { nats, list: [nats, sim, ...ingests, ...workers, ...gateways, dashboardService], gateways, port };
}

const clustered = cluster ? clusterServices() : null;
const services = clustered
  ? clustered.list
  : [...(mode === 'demo' ? [sim] : []), ingest, algo, dashboardService];

const width = Math.max(...services.map((s) => s.name.length));
const pretty = process.stdout.isTTY;
const children = [];
let stopping = false;

function prefix(s) {
  const label = s.name.padEnd(width);
  return pretty ? `\x1b[${s.color}m${label}\x1b[0m │ ` : `${label} | `;
}

/** Turns a pino JSON line into "HH:MM:SS level msg key=value ..."; other lines pass through. */
function format(line) {
  if (!line.startsWith('{')) return line;
  try {
    const { time, level, msg, service: _s, name: _n, pid: _p, hostname: _h, ...rest } = JSON.parse(line);
    const t = typeof time === 'string' ? time.slice(11, 19) : '';
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${t} ${String(level).padEnd(5)} ${msg ?? ''} ${fields}`.trimEnd();
  } catch {
    return line;
  }
}

function launch(s) {
  const [file, ...argv] = s.command ?? [
    process.execPath,
    '--import',
    'tsx',
    s.script ?? `services/${s.name}/src/main.ts`,
  ];
  const child = spawn(file, argv, {
    cwd: root,
    env: { ...env, ...s.env, LOG_PRETTY: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: Ctrl-C in the terminal reaches this runner only, which then stops the
    // services one by one (a service given two signals would exit at once).
    detached: true,
  });
  children.push({ s, child });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => console.log(prefix(s) + format(line)));
  }
  child.on('exit', (code, signal) => {
    console.log(`${prefix(s)}exited (${signal ?? `code ${code}`})`);
    // A cluster is meant to outlive any one of its instances (the point of the demo); the rest of
    // the system stops with the first service that dies.
    if (stopping) return;
    if (cluster && s.name !== 'nats-server' && s.name !== 'sim-exchange') {
      console.log(
        `${prefix(s)}the rest of the cluster carries on (restart it with its own command, or Ctrl-C)`,
      );
      return;
    }
    stop(`${s.name} exited`, 1);
  });
}

async function waitReady(s) {
  for (let i = 0; i < 600 && !stopping; i++) {
    try {
      if ((await fetch(s.health)).ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

async function simControl(path) {
  const res = await fetch(`http://127.0.0.1:${simPort}/sim${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  if (!res.ok) throw new Error(`POST /sim${path} answered ${res.status} (is SIM_CONTROL_API off?)`);
}

/**
 * What the replay has data for, from the simulator's status: data-ingest ingests those symbols,
 * intervals and (when the files have them) trades, unless the environment says otherwise.
 */
async function replayStreams() {
  const res = await fetch(`http://127.0.0.1:${simPort}/sim/status`);
  if (!res.ok) throw new Error(`GET /sim/status answered ${res.status} (is SIM_CONTROL_API off?)`);
  const status = await res.json();
  const streams = status.replay?.streams ?? [];
  const symbols = [...new Set(streams.map((s) => s.split('@')[0]))];
  const intervals = [
    ...new Set(streams.filter((s) => s.includes('@kline_')).map((s) => s.split('@kline_')[1])),
  ];
  ingest.env.SYMBOLS = env.SYMBOLS ?? symbols.join(',');
  if (intervals.length > 0) ingest.env.INTERVALS = env.INTERVALS ?? intervals.join(',');
  ingest.env.TRADES = env.TRADES ?? String(streams.some((s) => s.endsWith('@trade')));
  return status;
}

async function main() {
  buildDashboardIfStale();
  let status = null;
  if (replay) {
    // The exchange first: data-ingest is configured from what the files hold. The market holds
    // at the replay's start until every service is up, so none misses the start of the replay.
    launch(sim);
    if (!(await waitReady(sim))) return;
    await simControl('/market/pause');
    status = await replayStreams();
    for (const s of [ingest, algo, dashboardService]) launch(s);
  } else {
    for (const s of services) launch(s);
  }
  // The page comes up in a second or two, before the backends are ready: say where it is at once.
  waitReady(dashboardService).then((ok) => {
    if (ok && !stopping)
      console.log(`\ndashboard: http://localhost:${dashboardPort}/  (backends starting)\n`);
  });
  const ok = await Promise.all(services.map(waitReady));
  if (stopping || !ok.every(Boolean)) return;
  if (clustered) {
    printCluster(clustered);
    return;
  }
  if (replay) await simControl('/market/resume');
  const example = (ingest.env.SYMBOLS ?? 'btcusdt').split(',')[0];
  const interval = (ingest.env.INTERVALS ?? '1m').split(',')[0];
  const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const what = replay
    ? `replay of recorded Binance data, ${iso(status.replay.firstMs)} to ${iso(status.replay.endMs)}, from ${iso(status.startMs)} at speed ${status.speed}`
    : mode === 'demo'
      ? 'simulated exchange: prices are NOT real'
      : 'live Binance market data';
  const lines = [
    '',
    `VisuALGO is running (${what})`,
    `  dashboard    http://localhost:${dashboardPort}/`,
    `  market data  WebSocket  ws://localhost:${ingestHttp}/ws   (also /ws/<stream>, /stream?streams=a/b)`,
    `               gRPC       localhost:${ingestGrpc}            (visualgo.v1.MarketData, KlineService)`,
    `               REST       http://localhost:${ingestHttp}/api/v3/klines?symbol=${example.toUpperCase()}&interval=${interval}`,
    `  indicators   WebSocket  ws://localhost:${algoHttp}/ws`,
    `               REST       http://localhost:${algoHttp}/api/indicators?stream=${example.toLowerCase()}@kline_${interval}`,
    `  health       http://localhost:${ingestHttp}/healthz  http://localhost:${algoHttp}/healthz  (/metrics too)  http://localhost:${dashboardPort}/healthz`,
    ...(mode === 'demo'
      ? [
          `  exchange     http://localhost:${simPort}/sim/status   (${replay ? 'replay' : 'simulated'}; fault controls under /sim)`,
        ]
      : []),
    'Press Ctrl-C to stop.',
    '',
  ];
  console.log(lines.join('\n'));
}

function printCluster({ nats, gateways, port }) {
  const [first, second] = gateways.map((g) => g.ports);
  const example = (ingest.env.SYMBOLS ?? env.SYMBOLS ?? 'btcusdt').split(',')[0];
  console.log(
    [
      '',
      'VisuALGO cluster is running (simulated exchange: prices are NOT real)',
      `  dashboard    http://localhost:${dashboardPort}/   (through gateway-0)`,
      `  gateway-0    WebSocket ws://localhost:${first.http}/ws  gRPC localhost:${first.grpc}  indicators ws://localhost:${first.algo}/ws`,
      `  gateway-1    WebSocket ws://localhost:${second.http}/ws  gRPC localhost:${second.grpc}  indicators ws://localhost:${second.algo}/ws`,
      `               REST       http://localhost:${first.http}/api/v3/klines?symbol=${example.toUpperCase()}&interval=1m`,
      `  NATS         ${nats.url}   monitoring ${nats.monitor}/jsz?streams=1`,
      `  data-ingest  0 and 1 (every shard owned by both): http://localhost:${port(80)}/healthz, :${port(81)}`,
      `  trading-algo 0 (even partitions) and 1 (odd): http://localhost:${port(90)}/healthz, :${port(91)}`,
      `  exchange     http://localhost:${simPort}/sim/status`,
      'Stop one with kill -9 <pid> and watch the others carry on. Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

function stop(reason, code = 0) {
  if (stopping) return;
  stopping = true;
  console.log(`\nstopping (${reason})`);
  const reversed = [...children].reverse();
  let i = 0;
  const next = () => {
    const entry = reversed[i++];
    if (!entry) {
      process.exit(code);
      return;
    }
    const { child } = entry;
    if (child.exitCode !== null || child.signalCode !== null) {
      next();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 6_000);
    child.once('exit', () => {
      clearTimeout(timer);
      next();
    });
    child.kill('SIGTERM');
  };
  next();
}

main().catch((err) => {
  console.error(`run-services: ${err.message}`);
  stop('could not start', 1);
});

process.on('SIGINT', () => stop('interrupted'));
process.on('exit', () => {
  for (const { child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
process.on('SIGTERM', () => stop('terminated'));
