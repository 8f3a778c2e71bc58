/**
 * Fan-out benchmarks: serialising an event once for all clients against once per client, and
 * end-to-end latency from publish to receipt through the real WebSocket and gRPC edges with
 * many clients, against a single client measured in the same run.
 */
import { credentials } from '@grpc/grpc-js';
import { candleEvent, WireForm } from '@visualgo/bus';
import { binanceCombinedJson, binanceKlineEventJson, fromInt64, marketDataProto } from '@visualgo/contracts';
import { startGrpcEdge, startIngestHttpEdge } from '@visualgo/data-ingest';
import { FakeIngest, staticMetadata } from '@visualgo/data-ingest/testing';
import { testCandle } from '@visualgo/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { candleSeries } from './candle-series.js';
import { type Check, measure } from './harness.js';

const STREAM = 'btcusdt@kline_1m';
const logger = pino({ level: 'silent' });

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** Publishes `events` candles, paced, and returns publish-to-receipt latencies (ms) over all clients. */
async function wsLatency(clients: number, events: number): Promise<number[]> {
  const hub = new FakeIngest([STREAM]);
  hub.ready = true;
  const edge = await startIngestHttpEdge({
    bus: hub.bus,
    view: hub,
    metadata: staticMetadata(['BTCUSDT']),
    logger,
    metrics: new Registry(),
    host: '127.0.0.1',
    port: 0,
  });
  const sentAt = new Map<number, bigint>();
  const latencies: number[] = [];
  const sockets: WebSocket[] = [];
  let received = 0;
  for (let i = 0; i < clients; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${edge.port}/ws/${STREAM}`);
    ws.on('message', (data) => {
      const now = process.hrtime.bigint();
      const text = String(data);
      const t = Number(text.slice(text.indexOf('"t":') + 4, text.indexOf(',', text.indexOf('"t":'))));
      const at = sentAt.get(t);
      if (at !== undefined) latencies.push(Number(now - at) / 1e6);
      received++;
    });
    sockets.push(ws);
    await new Promise((r) => ws.once('open', r));
  }
  const base = Date.UTC(2024, 0, 1);
  for (let i = 0; i < events; i++) {
    const openTimeMs = base + i * 60_000;
    sentAt.set(openTimeMs, process.hrtime.bigint());
    hub.publishCandle(STREAM, testCandle({ openTimeMs, closed: true }));
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 0; i < 400 && received < clients * events; i++) await new Promise((r) => setTimeout(r, 5));
  for (const ws of sockets) ws.terminate();
  await edge.close();
  return latencies.sort((a, b) => a - b);
}

async function grpcLatency(clients: number, events: number): Promise<number[]> {
  const hub = new FakeIngest([STREAM]);
  hub.ready = true;
  const edge = await startGrpcEdge({
    bus: hub.bus,
    view: hub,
    logger,
    metrics: new Registry(),
    host: '127.0.0.1',
    port: 0,
  });
  const client = new marketDataProto.MarketDataClient(`127.0.0.1:${edge.port}`, credentials.createInsecure());
  const sentAt = new Map<number, bigint>();
  const latencies: number[] = [];
  let received = 0;
  const calls = Array.from({ length: clients }, () => {
    const call = client.streamCandles({ streams: [STREAM], sinceOpenTimeMs: 0n, closedOnly: true });
    call.on('data', (c: marketDataProto.Candle) => {
      const at = sentAt.get(fromInt64(c.openTimeMs, 'open_time_ms'));
      if (at !== undefined) latencies.push(Number(process.hrtime.bigint() - at) / 1e6);
      received++;
    });
    call.on('error', () => {});
    return call;
  });
  await new Promise((r) => setTimeout(r, 300));
  const base = Date.UTC(2024, 0, 1);
  for (let i = 0; i < events; i++) {
    const openTimeMs = base + i * 60_000;
    sentAt.set(openTimeMs, process.hrtime.bigint());
    hub.publishCandle(STREAM, testCandle({ openTimeMs, closed: true }));
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 0; i < 400 && received < clients * events; i++) await new Promise((r) => setTimeout(r, 5));
  for (const c of calls) c.cancel();
  client.close();
  await edge.close(500);
  return latencies.sort((a, b) => a - b);
}

/**
 * `full`: timing checks gate the run; otherwise (quick mode) only deliveries and the render count do.
 */
export async function fanoutBenchmarks(
  full: boolean,
): Promise<{ table: Record<string, number>; checks: Check[] }> {
  const CLIENTS = 1_000;
  const candle = candleSeries(1)[0];
  if (!candle) throw new Error('no candle');
  let sink = 0;
  let renders = 0;
  const combined = new WireForm('bench-combined', (e: ReturnType<typeof candleEvent>) => {
    renders++;
    return binanceCombinedJson(e.stream, binanceKlineEventJson(e.candle));
  });
  const once = measure('serialise once, hand to 1000 clients', 1, () => {
    for (let r = 0; r < 100; r++) {
      const e = candleEvent(STREAM, candle);
      for (let c = 0; c < CLIENTS; c++) sink += combined.of(e).length;
    }
  });
  // measure() runs the loop once to warm up and 7 times timed, 100 events each.
  const events = 8 * 100;
  const rendersOnce = renders;
  const perClient = measure('serialise per client (1000 clients)', 1, () => {
    for (let r = 0; r < 100; r++) {
      const e = candleEvent(STREAM, candle);
      for (let c = 0; c < CLIENTS; c++)
        sink += binanceCombinedJson(e.stream, binanceKlineEventJson(e.candle)).length;
    }
  });

  const WS_MANY = 1_000;
  const GRPC_MANY = 200;
  const EVENTS = 100;
  const ws1 = await wsLatency(1, EVENTS);
  const wsN = await wsLatency(WS_MANY, EVENTS);
  const g1 = await grpcLatency(1, EVENTS);
  const gN = await grpcLatency(GRPC_MANY, EVENTS);
  if (sink === 42) console.log('');

  const table: Record<string, number> = {
    'serialise once, 1000 clients (us/event)': once.nsPerOp / 100 / 1_000,
    'serialise per client, 1000 clients (us/event)': perClient.nsPerOp / 100 / 1_000,
    'ws latency 1 client p50 (ms)': percentile(ws1, 0.5),
    'ws latency 1 client p99 (ms)': percentile(ws1, 0.99),
    [`ws latency ${WS_MANY} clients p50 (ms)`]: percentile(wsN, 0.5),
    [`ws latency ${WS_MANY} clients p99 (ms)`]: percentile(wsN, 0.99),
    [`ws deliveries received of ${WS_MANY * EVENTS}`]: wsN.length,
    'grpc latency 1 client p50 (ms)': percentile(g1, 0.5),
    'grpc latency 1 client p99 (ms)': percentile(g1, 0.99),
    [`grpc latency ${GRPC_MANY} streams p50 (ms)`]: percentile(gN, 0.5),
    [`grpc latency ${GRPC_MANY} streams p99 (ms)`]: percentile(gN, 0.99),
    [`grpc deliveries received of ${GRPC_MANY * EVENTS}`]: gN.length,
  };
  return {
    table,
    checks: [
      {
        name: 'fan-out renders each event once',
        ratio: rendersOnce / events,
        limit: 1,
        detail: `renders / events handed to ${CLIENTS} clients each through WireForm (${rendersOnce} for ${events})`,
      },
      {
        // Timing, so a margin: rendering per client measured 20-550x slower here depending on load.
        name: 'fan-out serialising once is faster',
        ratio: perClient.nsPerOp / once.nsPerOp,
        limit: 5,
        atLeast: true,
        detail: 'Binance frame rendered per client / rendered once (WireForm), 1000 clients',
        gating: full,
      },
      {
        name: `every ws delivery arrives (${WS_MANY} clients)`,
        ratio: wsN.length / (WS_MANY * EVENTS),
        limit: 1,
        atLeast: true,
        detail: 'received / sent',
      },
      {
        name: `ws p99 latency with ${WS_MANY} clients`,
        ratio: percentile(wsN, 0.99) / Math.max(percentile(ws1, 0.99), 0.5),
        limit: 200,
        detail: `p99 ${WS_MANY} clients / p99 one client (floor 0.5 ms)`,
        gating: full,
      },
      {
        name: `every grpc delivery arrives (${GRPC_MANY} streams)`,
        ratio: gN.length / (GRPC_MANY * EVENTS),
        limit: 1,
        atLeast: true,
        detail: 'received / sent',
      },
      {
        name: `grpc p99 latency with ${GRPC_MANY} streams`,
        ratio: percentile(gN, 0.99) / Math.max(percentile(g1, 0.99), 0.5),
        limit: 200,
        detail: `p99 ${GRPC_MANY} streams / p99 one stream (floor 0.5 ms)`,
        gating: full,
      },
    ],
  };
}
