/**
 * The market-shaped benchmark's exchange, run as its own process: `BENCH_MARKET` (JSON
 * `MarketShape`) symbols, each with a 1m kline stream and a trade stream on a Binance-shaped
 * WebSocket (see feed-server.ts), and the REST calls data-ingest makes (`time`, `klines`), answered
 * from the {@link SyntheticMarket} at once whatever the history asked for. The market runs from the
 * start at its rates and never pauses, as a real one: kline updates round-robin over the symbols
 * (each symbol every `symbols / klinesPerSecond` seconds), trades spread by {@link TradeSpread},
 * each trade id the one after the last of its symbol. A `window` command counts what is sent with
 * a send time inside it.
 */
import { createServer, type ServerResponse } from 'node:http';
import { FeedServer } from './feed-server.js';
import { type FeederCommand, type FeederReport, type MarketShape, nowUs } from './protocol.js';
import { marketSymbols, SyntheticMarket } from './synthetic-market.js';
import { tradePayload } from './trade-frame.js';
import { TradeSpread } from './trade-spread.js';

const shape = JSON.parse(process.env.BENCH_MARKET ?? '{}') as MarketShape;
const symbols = marketSymbols(shape.symbols);
const lower = symbols.map((s) => s.toLowerCase());
const market = new SyntheticMarket({ symbols, historyMinutes: shape.historyMinutes, nowMs: Date.now() });
const spread = new TradeSpread(symbols.length);
const tradeIds = new Array<number>(symbols.length).fill(0);

let restRequests = 0;
let restCandles = 0;

function answer(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

const BAD_SYMBOL = '{"code":-1121,"msg":"Invalid symbol."}';
const rest = createServer((req, res) => {
  restRequests++;
  const url = new URL(req.url ?? '/', 'http://rest');
  const p = url.searchParams;
  switch (url.pathname) {
    case '/api/v3/ping':
      return answer(res, 200, '{}');
    case '/api/v3/time':
      return answer(res, 200, `{"serverTime":${Date.now()}}`);
    case '/api/v3/klines': {
      const i = market.indexOf((p.get('symbol') ?? '').toUpperCase());
      if (i === undefined) return answer(res, 400, BAD_SYMBOL);
      if (p.get('interval') !== '1m') return answer(res, 400, '{"code":-1120,"msg":"Invalid interval."}');
      const num = (name: string) => (p.has(name) ? Number(p.get(name)) : undefined);
      const startTime = num('startTime');
      const endTime = num('endTime');
      const limit = num('limit');
      const body = market.klines(
        i,
        {
          ...(startTime === undefined ? {} : { startTime }),
          ...(endTime === undefined ? {} : { endTime }),
          ...(limit === undefined ? {} : { limit }),
        },
        Date.now(),
      );
      restCandles += body === '[]' ? 0 : body.split('],[').length;
      return answer(res, 200, body);
    }
    default:
      return answer(res, 404, '{"code":-1,"msg":"not served by the benchmark feeder"}');
  }
});
await new Promise<void>((resolve) => rest.listen(0, '127.0.0.1', resolve));

const feed = await FeedServer.start((streams) =>
  process.send?.({ type: 'feed', streams } satisfies FeederReport),
);

interface Window {
  readonly fromUs: number;
  readonly toUs: number;
  opens: number;
  closes: number;
  trades: number;
  unrouted: number;
  restCloses: number;
  readonly restBefore: number;
  lateMs: number;
}
let window: Window | null = null;

const inWindow = (us: number) => window !== null && us >= window.fromUs && us < window.toUs;

function sendTrade(k: number): void {
  const i = spread.symbolOf(k);
  const id = (tradeIds[i] ?? 0) + 1;
  tradeIds[i] = id;
  const us = nowUs();
  const routed = feed.send(`${lower[i]}@trade`, tradePayload(symbols[i] as string, id, us));
  if (window && inWindow(us)) {
    if (routed) window.trades++;
    else window.unrouted++;
  }
}

function sendKline(i: number): void {
  const frames = market.update(i, nowUs());
  const stream = `${lower[i]}@kline_1m`;
  for (const frame of frames) {
    const routed = feed.send(stream, frame.text);
    if (!window || !inWindow(frame.sentUs)) continue;
    if (!routed) window.unrouted++;
    else if (frame.kind === 'open') window.opens++;
    else if (frame.kind === 'close') window.closes++;
    // A candle closed over REST may be held already: its closing event need not give an indicator.
    else window.restCloses++;
  }
}

/** Sends at the market's rates for as long as the process lives, catching up in bursts after a late timer. */
async function runMarket(): Promise<void> {
  const start = performance.now();
  let trades = 0;
  let klines = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    const tradesDue = Math.floor((elapsed * shape.tradesPerSecond) / 1000);
    const klinesDue = Math.floor((elapsed * shape.klinesPerSecond) / 1000);
    if (window && inWindow(nowUs())) {
      // How long the oldest message still to send has been due.
      const late = Math.max(
        (tradesDue - trades) / (shape.tradesPerSecond / 1000),
        (klinesDue - klines) / (shape.klinesPerSecond / 1000),
      );
      if (Number.isFinite(late)) window.lateMs = Math.max(window.lateMs, late);
    }
    while (trades < tradesDue) sendTrade(trades++);
    while (klines < klinesDue) sendKline(klines++ % symbols.length);
    if (window && nowUs() >= window.toUs) {
      const w = window;
      window = null;
      process.send?.({
        type: 'window',
        opens: w.opens,
        closes: w.closes,
        trades: w.trades,
        unrouted: w.unrouted,
        restCloses: w.restCloses,
        restRequests: restRequests - w.restBefore,
        lateMs: w.lateMs,
      } satisfies FeederReport);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

process.on('message', (cmd: FeederCommand) => {
  if (cmd.type === 'stop') process.exit(0);
  if (cmd.type === 'window') {
    window = {
      fromUs: cmd.fromUs,
      toUs: cmd.toUs,
      opens: 0,
      closes: 0,
      trades: 0,
      unrouted: 0,
      restCloses: 0,
      restBefore: restRequests,
      lateMs: 0,
    };
  }
  if (cmd.type === 'rest-stats')
    process.send?.({
      type: 'rest-stats',
      requests: restRequests,
      candles: restCandles,
    } satisfies FeederReport);
});
process.on('disconnect', () => process.exit(0));
const address = rest.address();
if (address === null || typeof address === 'string') throw new Error('REST server has no port');
void runMarket();
process.send?.({
  type: 'listening',
  feedUrl: feed.url,
  restUrl: `http://127.0.0.1:${address.port}`,
} satisfies FeederReport);
