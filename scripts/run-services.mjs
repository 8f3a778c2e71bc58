// Runs the system's services as child processes with prefixed, readable logs, prints their URLs
// once each is ready, and stops them all (SIGTERM, in reverse order) on Ctrl-C or when one dies.
//
//   node scripts/run-services.mjs demo   simulated exchange + data-ingest + trading-algo
//   node scripts/run-services.mjs live   data-ingest on live Binance + trading-algo
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const mode = process.argv[2] ?? 'demo';
if (mode !== 'demo' && mode !== 'live') {
  console.error(`usage: run-services.mjs demo|live (got "${mode}")`);
  process.exit(2);
}
const root = new URL('..', import.meta.url).pathname;
const env = process.env;
const simPort = env.SIM_PORT ?? '9100';
const ingestHttp = env.INGEST_HTTP_PORT ?? '8080';
const ingestGrpc = env.INGEST_GRPC_PORT ?? '50051';
const algoHttp = env.ALGO_HTTP_PORT ?? '8090';

const services = [
  ...(mode === 'demo'
    ? [
        {
          name: 'sim-exchange',
          color: 35,
          // The demo prints the control API's URL, so it turns it on (it is off by default).
          env: { SIM_PORT: simPort, SIM_CONTROL_API: env.SIM_CONTROL_API ?? 'true' },
          health: `http://127.0.0.1:${simPort}/api/v3/ping`,
        },
      ]
    : []),
  {
    name: 'data-ingest',
    color: 36,
    env: {
      MARKET_SOURCE: mode === 'demo' ? 'sim' : 'binance',
      SIM_URL: `http://127.0.0.1:${simPort}`,
      INGEST_HTTP_PORT: ingestHttp,
      INGEST_GRPC_PORT: ingestGrpc,
    },
    health: `http://127.0.0.1:${ingestHttp}/readyz`,
  },
  {
    name: 'trading-algo',
    color: 33,
    env: { INGEST_GRPC_URL: `127.0.0.1:${ingestGrpc}`, ALGO_HTTP_PORT: algoHttp },
    health: `http://127.0.0.1:${algoHttp}/readyz`,
  },
];

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

for (const s of services) {
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${s.name}/src/main.ts`], {
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
    if (!stopping) stop(`${s.name} exited`, 1);
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

Promise.all(services.map(waitReady)).then((ok) => {
  if (stopping || !ok.every(Boolean)) return;
  const lines = [
    '',
    `VisuALGO is running (${mode === 'demo' ? 'simulated exchange: prices are NOT real' : 'live Binance market data'})`,
    `  market data  WebSocket  ws://localhost:${ingestHttp}/ws   (also /ws/<stream>, /stream?streams=a/b)`,
    `               gRPC       localhost:${ingestGrpc}            (visualgo.v1.MarketData, KlineService)`,
    `               REST       http://localhost:${ingestHttp}/api/v3/klines?symbol=BTCUSDT&interval=1m`,
    `  indicators   WebSocket  ws://localhost:${algoHttp}/ws`,
    `               REST       http://localhost:${algoHttp}/api/indicators?stream=btcusdt@kline_1m`,
    `  health       http://localhost:${ingestHttp}/healthz  http://localhost:${algoHttp}/healthz  (/metrics too)`,
    ...(mode === 'demo'
      ? [`  exchange     http://localhost:${simPort}/sim/status   (simulated; fault controls under /sim)`]
      : []),
    'Press Ctrl-C to stop.',
    '',
  ];
  console.log(lines.join('\n'));
});

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

process.on('SIGINT', () => stop('interrupted'));
process.on('exit', () => {
  for (const { child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
process.on('SIGTERM', () => stop('terminated'));
