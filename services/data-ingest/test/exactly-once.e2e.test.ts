/**
 * End to end against the simulated exchange: every closed candle reaches gRPC and WebSocket
 * clients exactly once and in order, and every trade reaches gRPC clients exactly once and in id
 * order, while the upstream connection is dropped (with and without a close frame), stalled,
 * rolled over by serverShutdown, and fed malformed frames.
 */
import { credentials } from '@grpc/grpc-js';
import {
  binanceCombinedFrame,
  binanceKlineEvent,
  candleFromProto,
  fromInt64,
  marketDataProto,
} from '@visualgo/contracts';
import type { Candle, Trade } from '@visualgo/market';
import { loadConfig } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ingestConfigSchema } from '../src/app/config.js';
import { type IngestService, startIngestService } from '../src/app/ingest-service.js';

const STREAM = 'ethusdt@kline_1m';
const MINUTE = 60_000;
const logger = pino({ level: 'silent' });

/** Waits until `check` holds, polling; the test fails with `what` if it does not within the time. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let sim: SimExchange;
let ingest: IngestService;
let client: InstanceType<typeof marketDataProto.MarketDataClient>;

beforeAll(async () => {
  // 600x: a one-minute candle closes every 100 ms of wall time.
  sim = await startSimExchange({
    port: 0,
    speed: 600,
    symbols: ['ETHUSDT'],
    historyDays: 1,
    pingIntervalMs: 1_000,
  });
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'sim',
    SIM_URL: sim.httpUrl,
    SYMBOLS: 'ethusdt',
    INTERVALS: '1m',
    HISTORY_CANDLES: '200',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: '0',
    INGEST_HTTP_PORT: '0',
    UPSTREAM_STALE_MS: '1000',
    LOG_LEVEL: 'silent',
  });
  ingest = await startIngestService(config, logger, {
    upstream: { backoff: { initialMs: 20, maxMs: 200 }, switchoverTimeoutMs: 1_000, healthyAfterMs: 200 },
    restBackoff: { initialMs: 20, maxMs: 200 },
    fillBackoff: { initialMs: 20, maxMs: 200 },
  });
  await ingest.ready;
  client = new marketDataProto.MarketDataClient(`127.0.0.1:${ingest.grpcPort}`, credentials.createInsecure());
}, 30_000);

afterAll(async () => {
  client?.close();
  await ingest?.close();
  await sim?.close();
});

function collectClosed(call: NodeJS.ReadableStream, into: Candle[]): void {
  call.on('data', (c: marketDataProto.Candle) => {
    if (c.closed) into.push(candleFromProto(c));
  });
  call.on('error', () => {});
}

function tradeFromProto(
  t: marketDataProto.Trade,
): Pick<Trade, 'tradeId' | 'price' | 'quantity' | 'tradeTimeMs' | 'buyerIsMaker'> {
  return {
    tradeId: fromInt64(t.tradeId, 'trade_id'),
    price: t.price,
    quantity: t.quantity,
    tradeTimeMs: fromInt64(t.tradeTimeMs, 'trade_time_ms'),
    buyerIsMaker: t.buyerIsMaker,
  };
}

describe('exactly once through upstream faults', () => {
  it('delivers every closed candle once, in order, equal to what the exchange produced', async () => {
    const grpcCandles: Candle[] = [];
    const live = client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: 0n, closedOnly: true });
    collectClosed(live, grpcCandles);
    const trades: ReturnType<typeof tradeFromProto>[] = [];
    const tradeCall = client.streamTrades({ streams: ['ethusdt@trade'] });
    tradeCall.on('data', (t: marketDataProto.Trade) => trades.push(tradeFromProto(t)));
    tradeCall.on('error', () => {});

    const wsOpenTimes: number[] = [];
    // Frames that fail the Binance schemas, checked after the run: an expect thrown inside this
    // callback would escape the test as an uncaught error instead of failing it.
    const wsInvalid: string[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${ingest.httpPort}/stream?streams=${STREAM}`);
    ws.on('message', (data) => {
      const text = String(data);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        wsInvalid.push(text.slice(0, 200));
        return;
      }
      const frame = binanceCombinedFrame.safeParse(json);
      const event = frame.success ? binanceKlineEvent.safeParse(frame.data.data) : undefined;
      if (!event?.success) wsInvalid.push(text.slice(0, 200));
      else if (event.data.k.x) wsOpenTimes.push(event.data.k.t);
    });
    await new Promise((r) => ws.once('open', r));

    // Each fault is injected once more candles have flowed since the previous one, so every fault
    // lands on a live stream whatever the machine's speed. (600x: a candle every 100 ms.)
    const candlesAfter = async (what: string, n: number) => {
      const target = grpcCandles.length + n;
      await until(what, () => grpcCandles.length >= target);
    };
    await candlesAfter('candles before the first fault', 8);
    expect(sim.dropConnections({ closeFrame: false })).toBeGreaterThan(0);
    await candlesAfter('candles after a drop without close frame', 8);
    expect(sim.stallConnections({ durationMs: 2_000 })).toBeGreaterThan(0);
    await candlesAfter('candles after the stall', 8);
    expect(sim.serverShutdown({ closeAfterMs: 300 })).toBeGreaterThan(0);
    await candlesAfter('candles after serverShutdown', 8);
    sim.sendMalformed('truncated');
    sim.sendMalformed('wrong-types');
    sim.sendMalformed('invalid-json');
    await until('malformed frames counted', () => ingest.client.stats().malformed >= 3);
    expect(sim.dropConnections({ closeFrame: true })).toBeGreaterThan(0);
    await candlesAfter('candles after a drop with close frame', 10);

    // A late client resuming from an earlier point: replay, then live, with no seam.
    const resumeFrom = grpcCandles[5]?.openTimeMs ?? 0;
    const resumed: Candle[] = [];
    const resumedCall = client.streamCandles({
      streams: [STREAM],
      sinceOpenTimeMs: BigInt(resumeFrom),
      closedOnly: true,
    });
    collectClosed(resumedCall, resumed);
    await candlesAfter('candles after the resume', 8);
    sim.pauseMarket();
    // Everything the exchange closed has reached each client once the paused market's last
    // candle is there: the live client, the resumed one and the WebSocket see the same end.
    const lastClosed =
      sim.truth
        .candles(STREAM, { startTimeMs: grpcCandles.at(-1)?.openTimeMs ?? 0 })
        .filter((c) => c.closed)
        .at(-1)?.openTimeMs ?? 0;
    await until('the last closed candle everywhere', () => {
      const last = grpcCandles.at(-1)?.openTimeMs;
      return last === lastClosed && resumed.at(-1)?.openTimeMs === last && wsOpenTimes.at(-1) === last;
    });
    live.cancel();
    tradeCall.cancel();
    resumedCall.cancel();
    ws.close();

    expect(wsInvalid).toEqual([]);
    const times = grpcCandles.map((c) => c.openTimeMs);
    expect(times.length).toBeGreaterThan(40);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBe((times[i - 1] ?? 0) + MINUTE);

    const truth = sim.truth.candles(STREAM, { startTimeMs: times[0], endTimeMs: times.at(-1) });
    expect(truth.map((c) => c.openTimeMs)).toEqual(times);
    const fields = (c: {
      open: number;
      high: number;
      low: number;
      close: number;
      volume: number;
      quoteVolume: number;
    }) => [c.open, c.high, c.low, c.close, c.volume, c.quoteVolume];
    expect(grpcCandles.map(fields)).toEqual(truth.map(fields));
    expect(grpcCandles.map((c) => c.trades)).toEqual(truth.map((c) => c.trades));

    // WebSocket clients see the same closed candles, once each.
    const wsFrom = wsOpenTimes.filter((t) => t >= (times[0] ?? 0) && t <= (times.at(-1) ?? 0));
    expect(wsFrom).toEqual(times.slice(times.indexOf(wsFrom[0] ?? -1)));

    // The resumed client's series is the tail of the live one, from just after its resume point.
    const resumedTimes = resumed.map((c) => c.openTimeMs);
    expect(resumedTimes[0]).toBe(resumeFrom + MINUTE);
    expect(resumedTimes).toEqual(times.slice(6, 6 + resumedTimes.length));

    // Every trade once, in id order, equal to the exchange's, across the same faults.
    const ids = trades.map((t) => t.tradeId);
    expect(ids.length).toBeGreaterThan(1_000);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe((ids[i - 1] ?? 0) + 1);
    const first = trades[0];
    const last = trades.at(-1);
    if (!first || !last) throw new Error('no trades');
    const truthTrades = sim.truth
      .trades('ETHUSDT', { startTimeMs: first.tradeTimeMs, endTimeMs: last.tradeTimeMs + 1 })
      .filter((t) => t.tradeId >= first.tradeId && t.tradeId <= last.tradeId);
    const tradeFields = (t: {
      tradeId: number;
      price: number;
      quantity: number;
      tradeTimeMs: number;
      buyerIsMaker: boolean;
    }) => [t.tradeId, t.price, t.quantity, t.tradeTimeMs, t.buyerIsMaker];
    expect(trades.map(tradeFields)).toEqual(truthTrades.map(tradeFields));

    const metrics = await ingest.metrics.metrics();
    expect(metrics).toMatch(/ingest_upstream_malformed_frames_total\{service="data-ingest"\} [1-9]/);
    expect(metrics).toMatch(
      /ingest_gaps_total\{stream="ethusdt@kline_1m",outcome="filled",service="data-ingest"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /ingest_gaps_total\{stream="ethusdt@trade",outcome="filled",service="data-ingest"\} [1-9]/,
    );
  }, 30_000);
});
