/**
 * The wire benchmark's clients, run as their own process: `BENCH_CLIENTS` (JSON `ClientsOptions`)
 * connections to one URL; every trade (or, from trading-algo, every `indicator` message of an open
 * candle) is counted, trades checked to follow the previous trade of their symbol, and its latency
 * (send time carried in the frame to receipt here) recorded. Other messages (replies) are not;
 * trading-algo's snapshots are counted apart. Given a window (market runs), only indicators whose
 * kline was sent within it count, closed candles' included.
 */
import { LatencyHistogram } from './latency-histogram.js';
import { type ClientsCommand, type ClientsOptions, type ClientsReport, nowUs } from './protocol.js';
import { RawWsClient } from './raw-ws-client.js';
import { isSnapshot, readIndicatorMark, readTrade } from './trade-frame.js';

const options = JSON.parse(process.env.BENCH_CLIENTS ?? '{}') as ClientsOptions;
let histogram = new LatencyHistogram();
const sockets: RawWsClient[] = [];
const counts: number[] = [];
let received = 0;
let outOfOrder = 0;
let closed = 0;
let stalledClosed = 0;
let snapshots = 0;
let finals = 0;
let window: { readonly fromUs: number; readonly toUs: number } | null = null;
/** In a window: the worst latency (µs) of the indicators whose kline was sent in each second of it. */
let worstBySecond: number[] = [];
const stalled = options.stalled ?? 0;

function open(index: number): Promise<boolean> {
  return new Promise((resolve) => {
    const lastIds = new Map<string, number>();
    counts[index] = 0;
    const isStalled = index < stalled;
    const url = options.streams ? `${options.url}?streams=${options.streams.join(',')}` : options.url;
    const ws = new RawWsClient(url, {
      onOpen: () => {
        if (isStalled) ws.pause();
        resolve(true);
      },
      onError: () => resolve(false),
      onClose: () => {
        if (isStalled) stalledClosed++;
        else closed++;
      },
      onMessage: (data) => {
        if (isStalled) return;
        const at = nowUs();
        if (options.kind === 'indicator') {
          if (isSnapshot(data)) {
            snapshots++;
            return;
          }
          const mark = readIndicatorMark(data, at);
          if (mark === null) return;
          if (window === null ? mark.final : mark.sentUs < window.fromUs || mark.sentUs >= window.toUs)
            return;
          received++;
          if (mark.final) finals++;
          counts[index] = (counts[index] ?? 0) + 1;
          const us = at - mark.sentUs;
          histogram.record(us);
          if (window !== null) {
            const second = Math.floor((mark.sentUs - window.fromUs) / 1e6);
            worstBySecond[second] = Math.max(worstBySecond[second] ?? 0, us);
          }
          return;
        }
        const trade = readTrade(data);
        if (trade === null) return;
        received++;
        counts[index] = (counts[index] ?? 0) + 1;
        histogram.record(at - trade.sentUs);
        const last = lastIds.get(trade.symbol);
        if (last !== undefined && trade.id !== last + 1) outOfOrder++;
        lastIds.set(trade.symbol, trade.id);
      },
    });
    sockets.push(ws);
  });
}

const started = performance.now();
let failed = 0;
const concurrency = options.connectConcurrency ?? 100;
for (let i = 0; i < options.clients; i += concurrency) {
  const batch: Promise<boolean>[] = [];
  for (let j = i; j < Math.min(options.clients, i + concurrency); j++) batch.push(open(j));
  for (const ok of await Promise.all(batch)) if (!ok) failed++;
}
process.send?.({
  type: 'connected',
  open: options.clients - failed,
  failed,
  ms: performance.now() - started,
} satisfies ClientsReport);

process.on('message', (cmd: ClientsCommand) => {
  if (cmd.type === 'close') {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
  if (cmd.type === 'reset') {
    histogram = new LatencyHistogram();
    return;
  }
  if (cmd.type === 'window') {
    window = { fromUs: cmd.fromUs, toUs: cmd.toUs };
    worstBySecond = Array.from({ length: Math.ceil((cmd.toUs - cmd.fromUs) / 1e6) }, () => 0);
    histogram = new LatencyHistogram();
    received = 0;
    finals = 0;
    counts.fill(0);
    return;
  }
  let min = Number.POSITIVE_INFINITY;
  for (let i = stalled; i < counts.length; i++) min = Math.min(min, counts[i] ?? 0);
  process.send?.({
    type: 'stats',
    received,
    outOfOrder,
    closed,
    stalledClosed,
    minPerClient: counts.length > 0 ? min : 0,
    snapshots,
    finals,
    worstBySecondMs: worstBySecond.map((us) => Math.round(us / 100) / 10),
    latency: histogram.summary(),
  } satisfies ClientsReport);
});
process.on('disconnect', () => process.exit(0));
