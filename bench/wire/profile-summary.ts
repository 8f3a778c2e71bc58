/**
 * Where a process's CPU time went, from a `node --cpu-prof` profile: self time by function and by
 * area (ws framing, socket writes, the fan-out, rendering, GC), as shares of the busy time.
 * `node --import tsx bench/wire/profile-summary.ts <file.cpuprofile> [deliveries] [--window <from>,<to>]`:
 * with the number of messages delivered during the profile, also µs per delivery; with a window
 * (µs on the monotonic clock, as `process.hrtime` and the profile's sample times count; a market
 * run reports its `monotonicWindowUs`), only the samples inside it.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const AREAS: readonly [string, RegExp][] = [
  ['idle', /^\(idle\)/],
  ['garbage collection', /^\(garbage collector\)/],
  ['ws: framing and send (per client)', /ws\/lib\/(sender|websocket)\.js/],
  ['ws: receive and upgrade', /ws\/lib\/(receiver|websocket-server|buffer-util|validation)\.js/],
  ['write syscalls (writev, native)', /^(writev|writeBuffer|writeLatin1String|writeUtf8String) $/],
  ['socket writes (net, streams)', /node:net|node:internal\/(streams|stream_base_commons|net)/],
  ['fan-out (WsFanout, WsConnection)', /ws-fanout|ws-frame/],
  ['upstream client and parsing', /binance-(client|connection|frame|mapper)/],
  ['gRPC and HTTP/2 (grpc-js, node:http2)', /@grpc\/grpc-js|node:http2|node:internal\/http2/],
  ['protobuf encode and decode', /protobufjs|@protobufjs|contracts\/src\/gen/],
  ['JSON (parse, stringify)', /^(parse|stringify) $/],
  ['endpoint, bus and rendering', /data-ingest\/src|packages\/(bus|contracts)/],
  ['indicators, candle and trade books (packages/market)', /packages\/market/],
  ['trading-algo: feed, engine, edge', /trading-algo\/src/],
  ['zod validation', /node_modules\/zod/],
  ['module loading (start-up, tsx)', /node:internal\/modules|tsx\/dist|^__name /],
  ['timers, microtasks, other runtime', /node:internal|^node:|\(program\)/],
];

function areaOf(node: ProfileNode): string {
  const key = `${node.callFrame.functionName} ${node.callFrame.url}`;
  for (const [name, re] of AREAS) if (re.test(key)) return name;
  return 'other';
}

const args = process.argv.slice(2);
const windowAt = args.indexOf('--window');
const windowUs = windowAt >= 0 ? (args[windowAt + 1] ?? '').split(',').map(Number) : null;
if (windowAt >= 0) args.splice(windowAt, 2);
const [file, deliveriesArg] = args;
if (!file || (windowUs !== null && (windowUs.length !== 2 || !windowUs.every(Number.isFinite)))) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [deliveries] [--window <fromUs>,<toUs>]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
let atUs = profile.startTime;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  atUs += delta;
  if (windowUs && (atUs < (windowUs[0] ?? 0) || atUs >= (windowUs[1] ?? 0))) return;
  selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
});
const byFunction = new Map<string, number>();
const byArea = new Map<string, number>();
let busy = 0;
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (!node) continue;
  const area = areaOf(node);
  byArea.set(area, (byArea.get(area) ?? 0) + us);
  if (area === 'idle') continue;
  busy += us;
  const f = node.callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|lib)\//, '')}:${f.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
}
const deliveries = Number(deliveriesArg ?? Number.NaN);
console.log(
  `busy ${(busy / 1000).toFixed(0)} ms${deliveries > 0 ? `, ${(busy / deliveries).toFixed(2)} µs per delivery` : ''}`,
);
console.log('\nby area (share of busy time)');
for (const [area, us] of [...byArea].sort((a, b) => b[1] - a[1])) {
  if (area === 'idle') continue;
  console.log(`  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${area}`);
}
console.log('\ntop functions (self time)');
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`);
}
