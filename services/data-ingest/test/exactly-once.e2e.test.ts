/**
 * End to end against the simulated exchange: every closed candle reaches gRPC and WebSocket
 * clients exactly once and in order, and every trade reaches gRPC clients exactly once and in id
 * order, while the upstream connection is dropped (with and without a close frame), stalled,
 * rolled over by serverShutdown, and fed malformed frames.
 */
import { credentials } from '@grpc/grpc-js';
import { binanceCombinedFrame, binanceKlineEvent, marketDataProto } from '@visualgo/contracts';
import { loadConfig } from '@visualgo/platform';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type SimExchange, startSimExchange } from '../../sim-exchange/src/sim-exchange.js';
import { ingestConfigSchema } from '../src/app/config.js';
import { type IngestService, startIngestService } from '../src/app/ingest-service.js';

const STREAM = 'ethusdt@kline_1m';
const MINUTE = 60_000;
const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

function collectClosed(call: NodeJS.ReadableStream, into: marketDataProto.Candle[]): void {
  call.on('data', (c: marketDataProto.Candle) => {
    if (c.closed) into.push(c);
  });
  call.on('error', () => {});
}

describe('exactly once through upstream faults', () => {
  it('delivers every closed candle once, in order, equal to what the exchange produced', async () => {
    const grpcCandles: marketDataProto.Candle[] = [];
    const live = client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: 0, closedOnly: true });
    collectClosed(live, grpcCandles);
    const trades: marketDataProto.Trade[] = [];
    const tradeCall = client.streamTrades({ streams: ['ethusdt@trade'] });
    tradeCall.on('data', (t: marketDataProto.Trade) => trades.push(t));
    tradeCall.on('error', () => {});

    const wsOpenTimes: number[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${ingest.httpPort}/stream?streams=${STREAM}`);
    ws.on('message', (data) => {
      const frame = binanceCombinedFrame.safeParse(JSON.parse(String(data)));
      const event = frame.success ? binanceKlineEvent.safeParse(frame.data.data) : undefined;
      expect(event?.success).toBe(true);
      if (event?.success && event.data.k.x) wsOpenTimes.push(event.data.k.t);
    });
    await new Promise((r) => ws.once('open', r));

    await sleep(600);
    expect(sim.dropConnections({ closeFrame: false })).toBeGreaterThan(0);
    await sleep(800);
    expect(sim.stallConnections({ durationMs: 2_000 })).toBeGreaterThan(0);
    await sleep(2_200);
    expect(sim.serverShutdown({ closeAfterMs: 300 })).toBeGreaterThan(0);
    await sleep(800);
    sim.sendMalformed('truncated');
    sim.sendMalformed('wrong-types');
    sim.sendMalformed('invalid-json');
    await sleep(300);
    expect(sim.dropConnections({ closeFrame: true })).toBeGreaterThan(0);
    await sleep(1_200);

    // A late client resuming from an earlier point: replay, then live, with no seam.
    const resumeFrom = grpcCandles[5]?.openTimeMs ?? 0;
    const resumed: marketDataProto.Candle[] = [];
    const resumedCall = client.streamCandles({
      streams: [STREAM],
      sinceOpenTimeMs: resumeFrom,
      closedOnly: true,
    });
    collectClosed(resumedCall, resumed);
    await sleep(800);
    sim.pauseMarket();
    await sleep(500);
    live.cancel();
    tradeCall.cancel();
    resumedCall.cancel();
    ws.close();

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
