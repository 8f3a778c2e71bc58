import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { BinanceRestClient } from './binance-rest.js';
import { UpstreamMetadata } from './exchange-metadata.js';

const INFO = {
  timezone: 'UTC',
  serverTime: 1,
  rateLimits: [],
  symbols: ['BTCUSDT', 'ETHUSDT', 'BNBBTC'].map((symbol) => ({
    symbol,
    status: 'TRADING',
    baseAsset: symbol.slice(0, 3),
    quoteAsset: symbol.slice(3),
    baseAssetPrecision: 8,
    quoteAssetPrecision: 8,
    filters: [],
  })),
};

function upstream() {
  const calls: string[] = [];
  const state = { fail: false, serverTime: 5_000 };
  let clock = 1_000_000;
  const fetchFn: typeof fetch = async (input) => {
    const path = new URL(String(input)).pathname;
    calls.push(path);
    await new Promise((r) => setTimeout(r, 5));
    if (state.fail) return new Response('{"code":-1,"msg":"down"}', { status: 400 });
    const body = path === '/api/v3/time' ? { serverTime: state.serverTime } : INFO;
    return new Response(JSON.stringify(body), { status: 200 });
  };
  const rest = new BinanceRestClient({
    baseUrl: 'http://exchange.invalid',
    exchange: 'binance',
    logger: pino({ level: 'silent' }),
    fetch: fetchFn,
    maxAttempts: 1,
  });
  const metadata = new UpstreamMetadata({ rest, logger: pino({ level: 'silent' }), now: () => clock });
  return { metadata, calls, state, tick: (ms: number) => (clock += ms) };
}

describe('UpstreamMetadata', () => {
  it('fetches exchangeInfo once for concurrent clients, filters it, and serves it stale when a refresh fails', async () => {
    const { metadata, calls, state, tick } = upstream();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => metadata.exchangeInfo(new Set(['ETHUSDT', 'BTCUSDT']))),
    );
    expect(calls.filter((c) => c === '/api/v3/exchangeInfo')).toHaveLength(1);
    for (const a of answers) expect(a.symbols.map((s) => s.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(answers[0]?.rateLimits).toEqual([]);
    tick(3_600_001);
    state.fail = true;
    const stale = await metadata.exchangeInfo(new Set(['BNBBTC']));
    expect(stale.symbols.map((s) => s.symbol)).toEqual(['BNBBTC']);
    expect(calls.filter((c) => c === '/api/v3/exchangeInfo')).toHaveLength(2);
  });

  it('reuses the exchange time for a second and falls back to the local clock', async () => {
    const { metadata, calls, state, tick } = upstream();
    expect(await metadata.serverTime()).toBe(5_000);
    tick(400);
    expect(await metadata.serverTime()).toBe(5_400);
    expect(calls).toEqual(['/api/v3/time']);
    tick(1_000);
    state.fail = true;
    expect(await metadata.serverTime()).toBe(1_001_400);
  });

  it('fails exchangeInfo when it never had one', async () => {
    const { metadata, state } = upstream();
    state.fail = true;
    await expect(metadata.exchangeInfo(new Set(['BTCUSDT']))).rejects.toThrow(/rejected/);
  });
});
