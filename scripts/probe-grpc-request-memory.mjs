// Measures what oversized gRPC requests cost a running data-ingest: starts the simulated exchange
// and data-ingest as child processes, reads data-ingest's resident set and heap from /metrics,
// opens many StreamCandles calls whose request names one stream over and over (by default 150
// calls of 3.2 MB, one name 180 000 times), reads them again, cancels every call, and reads them
// once more after the process has had time to collect garbage.
//
//   node scripts/probe-grpc-request-memory.mjs [--calls=150] [--names=180000] [--settle-ms=10000]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Client, credentials, Metadata } from '@grpc/grpc-js';

const root = new URL('..', import.meta.url).pathname;
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a) => /^--([a-z-]+)=(.*)$/.exec(a))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);
const calls = Number(args.calls ?? 150);
const names = Number(args.names ?? 180_000);
const settleMs = Number(args['settle-ms'] ?? 10_000);
const STREAM = 'btcusdt@kline_1m';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const children = [];
function start(service, env) {
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/src/main.ts`], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function until(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const simPort = await freePort();
const httpPort = await freePort();
const grpcPort = await freePort();
start('sim-exchange', { SIM_PORT: String(simPort), SIM_SYMBOLS: 'btcusdt', SIM_HISTORY_DAYS: '1' });
await until('sim-exchange', async () => (await fetch(`http://127.0.0.1:${simPort}/api/v3/ping`)).ok);
start('data-ingest', {
  MARKET_SOURCE: 'sim',
  SIM_URL: `http://127.0.0.1:${simPort}`,
  SYMBOLS: 'btcusdt',
  INGEST_HOST: '127.0.0.1',
  INGEST_HTTP_PORT: String(httpPort),
  INGEST_GRPC_PORT: String(grpcPort),
});
await until('data-ingest ready', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok);

async function metric(name) {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}
async function memory(label) {
  const rss = await metric('process_resident_memory_bytes');
  const heap = await metric('nodejs_heap_size_used_bytes');
  const mib = (b) => (b / 1024 / 1024).toFixed(1);
  console.log(`${label.padEnd(34)} rss ${mib(rss).padStart(7)} MiB   heap used ${mib(heap).padStart(7)} MiB`);
  return { rss, heap };
}

// StreamCandlesRequest { repeated string streams = 1 }, hand-encoded: the same name `names` times.
const name = Buffer.from(STREAM);
const entry = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
const request = Buffer.alloc(entry.length * names);
for (let i = 0; i < names; i++) entry.copy(request, i * entry.length);
console.log(`request: ${names} x "${STREAM}" = ${(request.length / 1e6).toFixed(2)} MB, ${calls} calls`);

const before = await memory('before');
const client = new Client(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
const identity = (b) => b;
const outcomes = new Map();
let settled = 0;
const open = [];
for (let i = 0; i < calls; i++) {
  const call = client.makeServerStreamRequest(
    '/visualgo.v1.MarketData/StreamCandles',
    identity,
    identity,
    request,
    new Metadata(),
  );
  let first = true;
  const settle = (outcome) => {
    if (!first) return;
    first = false;
    settled++;
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  };
  call.on('data', () => settle('streaming'));
  call.on('error', (e) => settle(`error ${e.code} ${String(e.details).slice(0, 80)}`));
  call.on('end', () => settle('ended'));
  open.push(call);
}
// Every call either streams (the open candle arrives at once) or is refused.
await until('every call answered', () => settled === calls, 120_000);
console.log('outcomes:', Object.fromEntries(outcomes));
const during = await memory(`with ${calls} calls open`);
for (const call of open) call.cancel();
await until('streams closed', async () => (await metric('ingest_grpc_streams')) === 0);
await memory('just after cancelling');
await new Promise((r) => setTimeout(r, settleMs));
const after = await memory(`${settleMs / 1000} s after cancelling`);
client.close();
console.log(
  JSON.stringify({
    calls,
    names,
    requestBytes: request.length,
    outcomes: Object.fromEntries(outcomes),
    before,
    during,
    after,
  }),
);
for (const c of children) c.kill('SIGTERM');
process.exit(0);
