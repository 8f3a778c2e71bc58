/**
 * The market bus on NATS (a real nats-server, started here on a free port): what the bus adds to
 * the transport, each measured against the transport alone in the same run.
 * - Live events (trades) from a producer to a subscriber in another connection, through NatsBus
 *   (encode, validate, de-duplicate, fan out), against nats.js publishing and receiving the same
 *   bytes.
 * - A minute boundary: one closed candle of each of 2,000 streams stored through KlineWriter
 *   (message id and expected last subject sequence), against plain JetStream publishes of the
 *   same messages.
 * - Publish-to-receipt latency of a closed candle (stored, then announced) and of an open-candle
 *   update (core), and the bytes JetStream keeps per candle.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { candleEvent, tradeEvent } from '@visualgo/bus';
import { encodeEvent, KLINE_STREAM, KlineWriter, klineSubject, NatsBus } from '@visualgo/bus/nats';
import { candleIndexOf, openTimeOfCandleIndex } from '@visualgo/market';
import { TestNatsServer, testCandle, testTrade } from '@visualgo/testing';
import type { Check } from './harness.js';

const TRADES = 20_000;
const STREAMS = 2_000;
const T0 = Date.UTC(2024, 2, 4);
const BASE = candleIndexOf('1m', T0);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function until(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('nats bench: timed out');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Trades per second from one connection to another: raw nats.js, and through NatsBus. */
async function liveRates(url: string, round: number): Promise<{ raw: number; bus: number }> {
  const stream = 'btcusdt@trade';
  const events = Array.from({ length: TRADES }, (_, i) =>
    tradeEvent(stream, testTrade({ tradeId: round * TRADES * 10 + i + 1 })),
  );
  const payloads = events.map(encodeEvent);
  // The transport alone.
  const a = await connect({ servers: url });
  const b = await connect({ servers: url });
  let got = 0;
  b.subscribe('raw.trade', {
    callback: () => {
      got++;
    },
  });
  await b.flush();
  let t0 = performance.now();
  for (const p of payloads) a.publish('raw.trade', p);
  await until(() => got === TRADES);
  const raw = TRADES / ((performance.now() - t0) / 1000);
  await a.close();
  await b.close();
  // The bus.
  const producer = await NatsBus.connect({ servers: url, name: 'bench-producer' }, { venue: 'binance-sim' });
  const consumer = await NatsBus.connect({ servers: url, name: 'bench-consumer' }, { venue: 'binance-sim' });
  const abort = new AbortController();
  let received = 0;
  const reading = (async () => {
    for await (const _ of consumer.subscribe({
      streams: [stream],
      signal: abort.signal,
      maxQueued: TRADES * 2,
    }))
      received++;
  })();
  await consumer.connection.flush();
  t0 = performance.now();
  for (const e of events) producer.publish(e);
  await until(() => received === TRADES);
  const bus = TRADES / ((performance.now() - t0) / 1000);
  abort.abort();
  await reading;
  await producer.close();
  await consumer.close();
  return { raw, bus };
}

/** A minute boundary of `STREAMS` streams: ms to store one closed candle of each, raw and through KlineWriter. */
async function boundary(url: string): Promise<{ rawMs: number; writerMs: number; bytesPerCandle: number }> {
  const nc = await connect({ servers: url });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await NatsBus.create(nc, { venue: 'binance-sim' }).then((b) => b.close());
  const symbols = Array.from({ length: STREAMS }, (_, i) => `S${String(i).padStart(4, '0')}USDT`);
  const minute = (k: number) =>
    symbols.map((symbol) =>
      candleEvent(
        `${symbol.toLowerCase()}@kline_1m`,
        testCandle({ symbol, openTimeMs: openTimeOfCandleIndex('1m', BASE + k) }),
      ),
    );
  const writer = new KlineWriter(js, jsm, { venue: 'binance-sim', alive: () => true });
  // Minute 0 warms up (each stream's newest stored is read once); minutes 1.. are the steady state.
  await writer.store(minute(0));
  const writerRuns: number[] = [];
  for (let k = 1; k <= 3; k++) {
    const t0 = performance.now();
    await writer.store(minute(k));
    writerRuns.push(performance.now() - t0);
  }
  const rawRuns: number[] = [];
  for (let k = 4; k <= 6; k++) {
    const batch = minute(k);
    const t0 = performance.now();
    await Promise.all(
      batch.map((e) => js.publish(klineSubject('binance-sim', e.candle.symbol, '1m'), encodeEvent(e))),
    );
    rawRuns.push(performance.now() - t0);
  }
  const info = await jsm.streams.info(KLINE_STREAM);
  await nc.close();
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN;
  return {
    rawMs: median(rawRuns),
    writerMs: median(writerRuns),
    bytesPerCandle: info.state.bytes / info.state.messages,
  };
}

/** Publish-to-receipt latencies (ms) of closed candles and open updates, one at a time. */
async function latencies(url: string): Promise<{ closed: number[]; open: number[] }> {
  const producer = await NatsBus.connect(
    { servers: url, name: 'latency-producer' },
    { venue: 'binance-sim' },
  );
  const consumer = await NatsBus.connect(
    { servers: url, name: 'latency-consumer' },
    { venue: 'binance-sim' },
  );
  const stream = 'ethusdt@kline_1m';
  const abort = new AbortController();
  const arrived = new Map<string, number>();
  const reading = (async () => {
    for await (const e of consumer.subscribe({ streams: [stream], signal: abort.signal })) {
      if (e.type === 'candle') arrived.set(`${e.seq}:${e.candle.closed}`, performance.now());
    }
  })();
  await consumer.connection.flush();
  const closed: number[] = [];
  const open: number[] = [];
  for (let k = 0; k < 300; k++) {
    const openTimeMs = openTimeOfCandleIndex('1m', BASE + 10_000 + k);
    for (const isClosed of [false, true]) {
      const e = candleEvent(
        stream,
        testCandle({
          symbol: 'ETHUSDT',
          openTimeMs,
          closed: isClosed,
          eventTimeMs: openTimeMs + (isClosed ? 60_000 : 1),
        }),
      );
      const t0 = performance.now();
      producer.publish(e);
      const key = `${e.seq}:${isClosed}`;
      await until(() => arrived.has(key), 10_000);
      (isClosed ? closed : open).push((arrived.get(key) as number) - t0);
    }
  }
  abort.abort();
  await reading;
  await producer.close();
  await consumer.close();
  return { closed: closed.sort((a, b) => a - b), open: open.sort((a, b) => a - b) };
}

export async function natsBenchmarks(): Promise<{ table: Record<string, number>; checks: Check[] }> {
  const server = await TestNatsServer.start();
  try {
    await liveRates(server.url, 0); // warm-up
    const live = await liveRates(server.url, 1);
    const b = await boundary(server.url);
    const lat = await latencies(server.url);
    const table = {
      'nats: trades/s, nats.js publish -> subscribe (baseline)': live.raw,
      'nats: trades/s, NatsBus publish -> subscribe': live.bus,
      'nats: ms to store 2,000 closed candles, plain JetStream (baseline)': b.rawMs,
      'nats: ms to store 2,000 closed candles, KlineWriter': b.writerMs,
      'nats: bytes stored per closed candle (MD_KLINES)': b.bytesPerCandle,
      'nats: closed candle publish -> receipt p50 ms (stored, announced)': percentile(lat.closed, 0.5),
      'nats: closed candle publish -> receipt p99 ms': percentile(lat.closed, 0.99),
      'nats: open update publish -> receipt p50 ms (core)': percentile(lat.open, 0.5),
    };
    const checks: Check[] = [
      {
        name: 'NatsBus live events vs nats.js alone',
        ratio: live.bus / live.raw,
        limit: 0.25,
        atLeast: true,
        detail: `${live.bus.toFixed(0)} vs ${live.raw.toFixed(0)} trades/s (decode, validate, de-duplicate, fan out)`,
      },
      {
        name: 'KlineWriter minute boundary vs plain JetStream',
        ratio: b.writerMs / b.rawMs,
        limit: 2,
        detail: `${b.writerMs.toFixed(0)} vs ${b.rawMs.toFixed(0)} ms for 2,000 streams (message id, expected sequence)`,
      },
    ];
    return { table, checks };
  } finally {
    await server.stop();
  }
}
