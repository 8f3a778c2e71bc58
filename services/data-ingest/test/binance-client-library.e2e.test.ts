/**
 * A real Binance client library from npm (ccxt, with its WebSocket "pro" classes), used
 * unmodified except for its base URLs, against data-ingest on the simulated exchange: it starts
 * (`loadMarkets`), pages REST klines across the held history, and follows kline and trade streams.
 */
import { loadConfig } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import ccxt from 'ccxt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestConfigSchema } from '../src/app/config.js';
import { type IngestService, startIngestService } from '../src/app/ingest-service.js';

let sim: SimExchange;
let ingest: IngestService;
let exchange: InstanceType<typeof ccxt.pro.binance>;

beforeAll(async () => {
  sim = await startSimExchange({ port: 0, clock: 'manual', symbols: ['BTCUSDT', 'ETHUSDT'], historyDays: 3 });
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'sim',
    SIM_URL: sim.httpUrl,
    SYMBOLS: 'btcusdt,ethusdt',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: '0',
    INGEST_HTTP_PORT: '0',
  });
  ingest = await startIngestService(config, pino({ level: 'silent' }));
  await ingest.ready;
  exchange = new ccxt.pro.binance({ options: { fetchMarkets: { types: ['spot'] } } });
  const base = `127.0.0.1:${ingest.httpPort}`;
  exchange.urls.api = { ...exchange.urls.api, public: `http://${base}/api/v3` };
  exchange.urls.api.ws = { ...exchange.urls.api.ws, spot: `ws://${base}/ws` };
  // ccxt's own switch for plain ws:// (no TLS) endpoints.
  await exchange.loadHttpProxyAgent();
});

afterAll(async () => {
  await exchange?.close();
  await ingest?.close();
  await sim?.close();
});

describe('ccxt binance against data-ingest', () => {
  it('loads the markets data-ingest serves', async () => {
    const markets = await exchange.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(['BTC/USDT', 'ETH/USDT']);
    expect(markets['BTC/USDT']?.spot).toBe(true);
  });

  it('fetches klines before the held history, equal to the exchange ground truth', async () => {
    const now = sim.marketNowMs();
    const since = now - (now % 60_000) - 2_500 * 60_000;
    const rows = await exchange.fetchOHLCV('BTC/USDT', '1m', since, 1_000);
    expect(rows).toHaveLength(1_000);
    const truth = sim.truth.candles('btcusdt@kline_1m', { startTimeMs: since }).slice(0, 1_000);
    expect(rows.map((r) => r.slice(0, 6))).toEqual(
      truth.map((c) => [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume]),
    );
  });

  it('follows kline and trade streams', async () => {
    const trades = exchange.watchTrades('ETH/USDT');
    const candles = exchange.watchOHLCV('BTC/USDT', '1m');
    // The manual clock moves the market on: trades happen, and the open candle changes.
    const pump = setInterval(() => sim.advance(2_000), 20);
    try {
      const [t, k] = await Promise.all([trades, candles]);
      expect(t.length).toBeGreaterThan(0);
      expect(t[0]?.symbol).toBe('ETH/USDT');
      expect(['buy', 'sell']).toContain(t[0]?.side);
      expect(k.length).toBeGreaterThan(0);
      const last = k.at(-1);
      expect(last?.[0] ?? 0).toBeGreaterThan(sim.marketNowMs() - 120_000);
    } finally {
      clearInterval(pump);
    }
  });
});
