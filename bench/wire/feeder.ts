/**
 * The wire benchmark's market feed, run as its own process: Binance-shaped combined-stream
 * WebSocket frames (`/stream?streams=...`, as data-ingest connects) and raw ones (`/ws/<stream>...`,
 * as the plain relay connects), and the simulated exchange's REST API for everything data-ingest
 * asks before streaming (exchange info, kline history). Each trade carries the time it was sent:
 * `T` in whole milliseconds and the price `1.<microseconds>`, so a client measures latency to the
 * microsecond; trade ids are consecutive per symbol so a client sees every gap.
 */
import { startSimExchange } from '@visualgo/sim-exchange';
import { FeedServer } from './feed-server.js';
import { type FeederCommand, type FeederReport, nowUs } from './protocol.js';
import { tradePayload } from './trade-frame.js';

const symbols = (process.env.BENCH_SYMBOLS ?? 'BTCUSDT,ETHUSDT,BNBBTC').split(',');
const lower = symbols.map((s) => s.toLowerCase());

const tradeIds = new Array<number>(symbols.length).fill(0);
/** The last kline event time sent per symbol: each update gets a later one (see `sendKline`). */
const klineTimes = new Array<number>(symbols.length).fill(0);
const sim = await startSimExchange({ host: '127.0.0.1', port: 0, symbols, historyDays: 1 });
const feed = await FeedServer.start((streams) =>
  process.send?.({ type: 'feed', streams } satisfies FeederReport),
);

function sendTrade(i: number): void {
  const id = (tradeIds[i] ?? 0) + 1;
  tradeIds[i] = id;
  feed.send(`${lower[i]}@trade`, tradePayload(symbols[i] as string, id, nowUs()));
}

/**
 * An update of the still-open 1m candle. Its prices are all `<ms mod 10^6>.<µs>` of the send time
 * (a flat candle is valid), so an indicator computed from it carries that time in its `close`.
 * Its event time `E` is later than the previous update's of the symbol, as on Binance: a consumer
 * drops an update with the same `E` as the one it holds as a duplicate, and bursts (the loop
 * catching up after a late timer) send several updates of a symbol within one millisecond.
 */
function sendKline(i: number): void {
  const symbol = symbols[i] as string;
  const us = nowUs();
  const ms = Math.floor(us / 1000);
  const price = `${ms % 1_000_000}.${String(Math.floor(us - ms * 1000)).padStart(3, '0')}`;
  const eventMs = Math.max(ms, (klineTimes[i] ?? 0) + 1);
  klineTimes[i] = eventMs;
  const open = Math.floor(eventMs / 60_000) * 60_000;
  const payload =
    `{"e":"kline","E":${eventMs},"s":"${symbol}","k":{"t":${open},"T":${open + 59_999},"s":"${symbol}",` +
    `"i":"1m","f":1,"L":2,"o":"${price}","c":"${price}","h":"${price}","l":"${price}","v":"10","n":2,` +
    `"x":false,"q":"10","V":"5","Q":"5","B":"0"}}`;
  feed.send(`${lower[i]}@kline_1m`, payload);
}

/** Sends at the asked rates for `seconds`, catching up in bursts when a timer fires late. */
async function run(cmd: Extract<FeederCommand, { type: 'run' }>): Promise<FeederReport> {
  const start = performance.now();
  const endMs = cmd.seconds * 1000;
  let trades = 0;
  let klines = 0;
  let lateMs = 0;
  let t = 0;
  let k = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    const due = Math.min(elapsed, endMs);
    const tradesDue = Math.floor((due * cmd.tradesPerSecond) / 1000);
    const klinesDue = Math.floor((due * cmd.klinesPerSecond) / 1000);
    if (tradesDue - trades > cmd.tradesPerSecond / 100) lateMs = Math.max(lateMs, elapsed - due);
    while (trades < tradesDue) {
      sendTrade(t);
      t = (t + 1) % symbols.length;
      trades++;
    }
    while (klines < klinesDue) {
      sendKline(k);
      k = (k + 1) % symbols.length;
      klines++;
    }
    if (elapsed >= endMs) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  return { type: 'done', trades, klines, lateMs };
}

process.on('message', (cmd: FeederCommand) => {
  if (cmd.type === 'stop') process.exit(0);
  if (cmd.type === 'run') void run(cmd).then((r) => process.send?.(r));
});
process.on('disconnect', () => process.exit(0));
process.send?.({
  type: 'listening',
  feedUrl: feed.url,
  restUrl: sim.httpUrl,
} satisfies FeederReport);
