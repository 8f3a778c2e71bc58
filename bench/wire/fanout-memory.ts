/**
 * What the WebSocket fan-out makes a process hold when clients fall behind, against what it
 * counts (`WS_MAX_TOTAL_BUFFERED_BYTES`):
 *
 *   node --expose-gc --import tsx bench/wire/fanout-memory.ts <clients> <stalled> <frames/s> <seconds> <maxTotalBytes> [checkout root]
 *
 * A `WsFanout` in this process, `clients` connections from a clients process (`clients.ts`), the
 * first `stalled` of which stop reading once connected; ~200-byte frames broadcast to all of them
 * every 10 ms. Reported as JSON: resident memory idle (clients connected) and at its peak
 * (`VmHWM`), the most the fan-out counted, the live heap (after a full collection) when the count
 * first passed 90 % of the bound (`--expose-gc`), the longest the event loop was blocked, clients
 * cut off, and the count once they were gone. A checkout root measures another version's fan-out
 * with the same harness.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { WsFanout as WsFanoutType } from '../../packages/platform/src/ws-fanout.js';
import { Child } from './child.js';
import type { ClientsOptions, ClientsReport } from './protocol.js';

const [clientsArg, stalledArg, rateArg, secondsArg, maxTotalArg, root] = process.argv.slice(2);
if (!maxTotalArg) {
  console.error(
    'usage: fanout-memory.ts <clients> <stalled> <frames/s> <seconds> <maxTotalBytes> [checkout root]',
  );
  process.exit(2);
}
const clients = Number(clientsArg);
const maxTotal = Number(maxTotalArg);
const base = root ? (root.endsWith('/') ? root : `${root}/`) : new URL('../../', import.meta.url).pathname;
const { WsFanout } = (await import(`${base}packages/platform/src/ws-fanout.ts`)) as {
  WsFanout: typeof WsFanoutType;
};

const MB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
const vmKb = (key: string): number =>
  Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);

let slow = 0;
const fanout = new WsFanout<null>({
  logger: pino({ level: 'silent' }),
  heartbeatIntervalMs: 0,
  maxTotalBufferedBytes: maxTotal,
  metrics: { slowConsumerDropped: () => slow++ },
});
const server = createServer((_req, res) => res.end());
server.on('upgrade', (req, socket, head) =>
  fanout.handleUpgrade(req, socket, head, () => ({ accept: true, state: null })),
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const options: ClientsOptions = {
  url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
  clients,
  kind: 'trade',
  stalled: Number(stalledArg),
};
const child = new Child('clients', new URL('./clients.ts', import.meta.url).pathname, {
  BENCH_CLIENTS: JSON.stringify(options),
});
const connected = await child.next<Extract<ClientsReport, { type: 'connected' }>>('connected', 120_000);
if (connected.failed > 0) throw new Error(`${connected.failed} clients failed to connect`);
while (fanout.size < clients) await new Promise((resolve) => setTimeout(resolve, 20));
gc?.();
await new Promise((resolve) => setTimeout(resolve, 500));
const idleRssMb = vmKb('VmRSS') / 1024;

let peakCounted = 0;
let liveHeapMb: number | null = null;
let longestStallMs = 0;
let last = performance.now();
// Every millisecond: the peak of the count (sampled), and how late the timer fires (the event loop
// blocked).
const watch = setInterval(() => {
  const now = performance.now();
  longestStallMs = Math.max(longestStallMs, now - last);
  last = now;
  peakCounted = Math.max(peakCounted, fanout.totalBufferedBytes);
  if (liveHeapMb === null && gc && fanout.totalBufferedBytes > 0.9 * maxTotal) {
    gc();
    liveHeapMb = process.memoryUsage().heapUsed / MB;
    last = performance.now();
  }
}, 1);
let seq = 0;
const perTick = Math.max(1, Math.round(Number(rateArg) / 100));
const pad = 'x'.repeat(100);
const publisher = setInterval(() => {
  for (let i = 0; i < perTick; i++) {
    fanout.broadcast(
      fanout.clients(),
      `{"e":"trade","E":${Date.now()},"s":"BTCUSDT","t":${seq++},"p":"1.00","q":"2.00","x":"${pad}"}`,
    );
  }
}, 10);
await new Promise((resolve) => setTimeout(resolve, Number(secondsArg) * 1000));
clearInterval(publisher);
// The clients cut off are terminated 2 s after their close (the default grace); the readers drain.
const deadline = Date.now() + 10_000;
while ((fanout.size > clients - slow || fanout.totalBufferedBytes > 0) && Date.now() < deadline)
  await new Promise((resolve) => setTimeout(resolve, 50));
clearInterval(watch);
gc?.();
const heapAfterMb = process.memoryUsage().heapUsed / MB;
console.log(
  JSON.stringify({
    clients,
    stalled: options.stalled,
    framesPerSecond: Number(rateArg),
    seconds: Number(secondsArg),
    maxTotalMb: maxTotal / MB,
    idleRssMb,
    peakRssMb: vmKb('VmHWM') / 1024,
    peakCountedMb: peakCounted / MB,
    liveHeapAt90PercentMb: liveHeapMb,
    heapAfterMb,
    longestStallMs: Math.round(longestStallMs),
    slowConsumersCut: slow,
    clientsLeft: fanout.size,
    countedAtEnd: fanout.totalBufferedBytes,
  }),
);
await child.stop();
await fanout.closeAll(1001, 'done', 500);
server.close();
process.exit(0);
