/** Start-up backfill against the simulated exchange: paging past 1000 rows and riding out 429s and 500s. */
import { loadConfig } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestConfigSchema } from '../src/app/config.js';
import { type IngestService, startIngestService } from '../src/app/ingest-service.js';

const STREAM = 'btcusdt@kline_1m';
let sim: SimExchange | undefined;
let ingest: IngestService | undefined;

afterEach(async () => {
  await ingest?.close();
  await sim?.close();
  ingest = undefined;
  sim = undefined;
});

async function start(historyCandles: number) {
  sim = await startSimExchange({ port: 0, clock: 'manual', symbols: ['BTCUSDT'], historyDays: 2 });
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'sim',
    SIM_URL: sim.httpUrl,
    SYMBOLS: 'btcusdt',
    TRADES: 'false',
    HISTORY_CANDLES: String(historyCandles),
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: '0',
    INGEST_HTTP_PORT: '0',
  });
  return { sim, config };
}

describe('history backfill', () => {
  it('pages through more than one REST page and matches the exchange exactly', async () => {
    const { sim: s, config } = await start(1_500);
    ingest = await startIngestService(config, pino({ level: 'silent' }));
    await ingest.ready;
    const history = ingest.store.stream(STREAM)?.book.closedSince(0) ?? [];
    const truth = s.truth.candles(STREAM, { startTimeMs: history[0]?.openTimeMs });
    expect(history).toHaveLength(1_500);
    expect(history.map((c) => [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume, c.trades])).toEqual(
      truth.map((c) => [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume, c.trades]),
    );
    // The last history candle is the one just before the candle open at the exchange's now.
    expect((history.at(-1)?.openTimeMs ?? 0) + 60_000).toBe(s.marketNowMs() - (s.marketNowMs() % 60_000));
    const requests = ingest.rest.stats().requests;
    expect(requests).toBeGreaterThanOrEqual(3); // time + two pages of klines
  });

  it('waits out 429 (Retry-After) and 500 answers and still loads the full history', async () => {
    const { sim: s, config } = await start(300);
    s.injectRestFault({ mode: '429', count: 1, pathPrefix: '/api/v3/klines', retryAfterSec: 1 });
    s.injectRestFault({ mode: '500', count: 1, pathPrefix: '/api/v3/klines' });
    const t0 = Date.now();
    ingest = await startIngestService(config, pino({ level: 'silent' }), {
      restBackoff: { initialMs: 20, maxMs: 100 },
    });
    await ingest.ready;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(ingest.store.stream(STREAM)?.book.closedSince(0) ?? []).toHaveLength(300);
    expect(ingest.rest.stats().rateLimited).toBeGreaterThanOrEqual(1);
    expect(ingest.rest.stats().retries).toBeGreaterThanOrEqual(2);
  });
});
