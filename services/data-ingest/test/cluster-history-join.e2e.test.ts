/**
 * A data-ingest that starts long after the store's newest candle (every instance was down for two
 * hours) loads its usual start-up history, and joins it to the store first: the candles in between
 * are fetched from the exchange, so the store has no hole that later candles would pass over.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { KlineHistory, NatsBus } from '@visualgo/bus/nats';
import { candleIndexOf } from '@visualgo/market';
import { loadConfig } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { TestNatsServer } from '@visualgo/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestConfigSchema } from '../src/app/config.js';
import { type IngestService, startIngestService } from '../src/app/ingest-service.js';

const STREAM = 'btcusdt@kline_1m';
let nats: TestNatsServer;
let sim: SimExchange;
let reader: NatsBus;
let history: KlineHistory;

beforeAll(async () => {
  nats = await TestNatsServer.start();
  sim = await startSimExchange({ port: 0, clock: 'manual', symbols: ['BTCUSDT'], historyDays: 2 });
  reader = await NatsBus.connect({ servers: nats.url, name: 'reader' }, { venue: 'binance-sim' });
  history = new KlineHistory(jetstream(reader.connection), await jetstreamManager(reader.connection), {
    venue: 'binance-sim',
  });
}, 30_000);

afterAll(async () => {
  await reader?.close();
  await sim?.close();
  await nats?.stop();
});

function ingest(): Promise<IngestService> {
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'sim',
    SIM_URL: sim.httpUrl,
    SYMBOLS: 'btcusdt',
    INTERVALS: '1m',
    TRADES: 'false',
    HISTORY_CANDLES: '50',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: '0',
    INGEST_HTTP_PORT: '0',
    NATS_URL: nats.url,
    LOG_LEVEL: 'silent',
  });
  return startIngestService(config, pino({ level: 'silent' }));
}

describe('a data-ingest starting long after the store', () => {
  it('joins its start-up history to the stored candles, leaving no hole', async () => {
    const first = await ingest();
    await first.ready;
    let stored = await history.range(STREAM, { limit: 10_000 });
    for (let i = 0; i < 100 && stored.length < 50; i++) {
      await new Promise((r) => setTimeout(r, 50));
      stored = await history.range(STREAM, { limit: 10_000 });
    }
    expect(stored).toHaveLength(50);
    await first.close();

    // Two hours pass with nobody ingesting: 120 candles the second instance's 50 do not reach.
    sim.advance(2 * 60 * 60_000);
    const second = await ingest();
    await second.ready;
    let all = await history.range(STREAM, { limit: 10_000 });
    for (let i = 0; i < 100 && all.length < 170; i++) {
      await new Promise((r) => setTimeout(r, 50));
      all = await history.range(STREAM, { limit: 10_000 });
    }
    const idx = all.map((c) => candleIndexOf('1m', c.openTimeMs));
    expect(idx.every((x, i) => i === 0 || x === (idx[i - 1] as number) + 1)).toBe(true);
    expect(all.length).toBeGreaterThanOrEqual(170);
    // And live candles follow on.
    sim.advance(60_000);
    const last = idx.at(-1) as number;
    for (let i = 0; i < 100; i++) {
      const newest = await history.newest(STREAM);
      if (newest && candleIndexOf('1m', newest.candle.openTimeMs) > last) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(candleIndexOf('1m', (await history.newest(STREAM))?.candle.openTimeMs ?? 0)).toBe(last + 1);
    await second.close();
  }, 60_000);
});
