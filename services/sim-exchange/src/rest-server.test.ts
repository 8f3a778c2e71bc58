import {
  type BinanceKlineRow,
  binanceExchangeInfo,
  binanceKlineEvent,
  binanceKlineRows,
  binanceRestError,
  binanceServerTime,
} from '@visualgo/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { type SimExchange, type SimExchangeOptions, startSimExchange } from './sim-exchange.js';
import { TestClient } from './test-client.js';

const START = Date.UTC(2025, 0, 15, 12, 0, 0);
let sim: SimExchange | null = null;

async function start(options: SimExchangeOptions = {}): Promise<SimExchange> {
  sim = await startSimExchange({
    clock: 'manual',
    startMs: START,
    seed: 'rest-test',
    historyDays: 2,
    ...options,
  });
  return sim;
}

afterEach(async () => {
  await sim?.close();
  sim = null;
});

async function get(
  s: SimExchange,
  path: string,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${s.httpUrl}${path}`);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

async function klines(s: SimExchange, query: string): Promise<BinanceKlineRow[]> {
  const res = await get(s, `/api/v3/klines?${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return binanceKlineRows.parse(res.body);
}

/** A decimal string as an integer count of 1e-8. */
function e8(decimal: string): bigint {
  const [whole = '0', fraction = ''] = decimal.split('.');
  return BigInt(whole) * 100_000_000n + BigInt(fraction.padEnd(8, '0').slice(0, 8));
}

describe('general endpoints', () => {
  it('answers ping, time and exchangeInfo with Binance’s shapes and weights', async () => {
    const s = await start();
    s.advance(1_234);
    const ping = await get(s, '/api/v3/ping');
    expect([ping.status, ping.body, ping.headers.get('x-mbx-used-weight-1m')]).toEqual([200, {}, '1']);
    const time = await get(s, '/api/v3/time');
    expect(binanceServerTime.parse(time.body).serverTime).toBe(START + 1_234);
    const info = await get(s, '/api/v3/exchangeInfo');
    expect(info.headers.get('x-mbx-used-weight-1m')).toBe('22');
    const parsed = binanceExchangeInfo.parse(info.body);
    expect(parsed.symbols.map((x) => x.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'BNBBTC']);
    const bnb = parsed.symbols[2];
    expect(bnb?.filters).toContainEqual(
      expect.objectContaining({ filterType: 'PRICE_FILTER', tickSize: '0.00000100' }),
    );
    expect(bnb?.filters).toContainEqual(
      expect.objectContaining({ filterType: 'LOT_SIZE', stepSize: '0.00100000' }),
    );
    const one = binanceExchangeInfo.parse((await get(s, '/api/v3/exchangeInfo?symbol=ETHUSDT')).body);
    expect(one.symbols.map((x) => x.symbol)).toEqual(['ETHUSDT']);
    const bad = await get(s, '/api/v3/exchangeInfo?symbol=NOPE');
    expect([bad.status, binanceRestError.parse(bad.body)]).toEqual([
      400,
      { code: -1121, msg: 'Invalid symbol.' },
    ]);
  });
});

describe('GET /api/v3/klines', () => {
  it('returns the latest 500 candles by default, the open one last', async () => {
    const s = await start();
    s.advance(30_000);
    const rows = await klines(s, 'symbol=BTCUSDT&interval=1m');
    expect(rows).toHaveLength(500);
    const last = rows.at(-1);
    expect(last?.[0]).toBe(START);
    expect(last?.[6]).toBe(START + 59_999);
    expect(rows[0]?.[0]).toBe(START - 499 * 60_000);
    for (let i = 1; i < rows.length; i++) expect(rows[i]?.[0]).toBe((rows[i - 1]?.[0] ?? 0) + 60_000);
  });

  it('caps limit at 1000 and honours startTime, endTime and limit', async () => {
    const s = await start();
    expect(await klines(s, 'symbol=ETHUSDT&interval=1m&limit=5000')).toHaveLength(1000);
    const from = START - 100 * 60_000;
    const byStart = await klines(s, `symbol=ETHUSDT&interval=1m&startTime=${from + 1}&limit=3`);
    expect(byStart.map((r) => r[0])).toEqual([from + 60_000, from + 120_000, from + 180_000]);
    const byEnd = await klines(s, `symbol=ETHUSDT&interval=1m&endTime=${from}&limit=3`);
    expect(byEnd.map((r) => r[0])).toEqual([from - 120_000, from - 60_000, from]);
    const both = await klines(s, `symbol=ETHUSDT&interval=1m&startTime=${from}&endTime=${from + 600_000}`);
    expect(both).toHaveLength(11);
  });

  it('pages through history to the same rows as one request and as the ground truth', async () => {
    const s = await start();
    s.advance(90_000);
    const from = START - 1_000 * 60_000;
    const single = await klines(s, `symbol=BTCUSDT&interval=1m&startTime=${from}&limit=1000`);
    const paged: BinanceKlineRow[] = [];
    let next = from;
    for (;;) {
      const page = await klines(s, `symbol=BTCUSDT&interval=1m&startTime=${next}&limit=300`);
      paged.push(...page);
      if (page.length < 300) break;
      next = (page.at(-1)?.[0] ?? 0) + 60_000;
    }
    expect(paged.slice(0, 1000)).toEqual(single);
    expect(single).toEqual(
      s.truth.klineRows('btcusdt@kline_1m', { startTimeMs: from, endTimeMs: from + 999 * 60_000 }),
    );
  });

  it('serves exactly the closed candles the stream produced', async () => {
    const s = await start();
    const client = await TestClient.open(`${s.wsUrl}/ws/bnbbtc@kline_1m`);
    try {
      for (let i = 0; i < 5; i++) s.advance(60_000);
      await client.waitForFrames(150);
      const finals = client
        .json()
        .map((m) => binanceKlineEvent.parse(m).k)
        .filter((k) => k.x);
      expect(finals).toHaveLength(5);
      const rows = await klines(s, `symbol=BNBBTC&interval=1m&startTime=${START}&limit=5`);
      expect(rows).toEqual(finals.map((k) => [k.t, k.o, k.h, k.l, k.c, k.v, k.T, k.q, k.n, k.V, k.Q, '0']));
    } finally {
      client.close();
    }
  });

  it('builds longer intervals from the same trades as the minutes', async () => {
    const s = await start();
    const hourOpen = START - 3_600_000;
    const [hour] = await klines(s, `symbol=BTCUSDT&interval=1h&startTime=${hourOpen}&limit=1`);
    const minutes = await klines(s, `symbol=BTCUSDT&interval=1m&startTime=${hourOpen}&limit=60`);
    expect(minutes).toHaveLength(60);
    expect(hour?.[1]).toBe(minutes[0]?.[1]);
    expect(hour?.[4]).toBe(minutes[59]?.[4]);
    expect(e8(hour?.[5] ?? '')).toBe(minutes.reduce((sum, r) => sum + e8(r[5]), 0n));
    expect(e8(hour?.[7] ?? '')).toBe(minutes.reduce((sum, r) => sum + e8(r[7]), 0n));
    expect(hour?.[8]).toBe(minutes.reduce((sum, r) => sum + r[8], 0));
    expect(Number(hour?.[2])).toBe(Math.max(...minutes.map((r) => Number(r[2]))));
  });

  it('rejects bad parameters with Binance’s error codes', async () => {
    const s = await start();
    const cases: [string, number][] = [
      ['interval=1m', -1102],
      ['symbol=BTCUSDT', -1102],
      ['symbol=BTCUSDT&interval=7m', -1120],
      ['symbol=XYZUSDT&interval=1m', -1121],
      ['symbol=btcusdt&interval=1m', -1100],
      ['symbol=BTCUSDT&interval=1m&startTime=abc', -1100],
      [`symbol=BTCUSDT&interval=1m&startTime=${START}&endTime=${START - 1}`, -1023],
    ];
    for (const [query, code] of cases) {
      const res = await get(s, `/api/v3/klines?${query}`);
      expect(res.status, query).toBe(400);
      expect(binanceRestError.parse(res.body).code, query).toBe(code);
    }
  });
});

describe('request weight', () => {
  it('reports used weight, answers 429 with Retry-After past the limit, then bans with 418', async () => {
    let wall = Date.UTC(2025, 0, 1, 0, 0, 10);
    const s = await start({
      restWeightLimit: 10,
      restBanAfterRejections: 2,
      restBanMs: 120_000,
      wallNowMs: () => wall,
    });
    const q = '/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1';
    for (let i = 1; i <= 5; i++) {
      const ok = await get(s, q);
      expect([ok.status, ok.headers.get('x-mbx-used-weight-1m')]).toEqual([200, String(2 * i)]);
    }
    const limited = await get(s, q);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('50');
    expect(limited.headers.get('x-mbx-used-weight-1m')).toBe('12');
    expect(binanceRestError.parse(limited.body).code).toBe(-1003);
    expect((await get(s, q)).status).toBe(429);
    const banned = await get(s, q);
    expect(banned.status).toBe(418);
    expect(banned.headers.get('retry-after')).toBe('120');
    wall += 60_000;
    expect((await get(s, q)).status).toBe(418);
    wall += 61_000;
    expect((await get(s, q)).status).toBe(200);
  });

  it('starts a fresh window every minute', async () => {
    let wall = Date.UTC(2025, 0, 1, 0, 0, 59);
    const s = await start({ restWeightLimit: 2, wallNowMs: () => wall });
    expect((await get(s, '/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1')).status).toBe(200);
    expect((await get(s, '/api/v3/ping')).status).toBe(429);
    wall += 1_000;
    const fresh = await get(s, '/api/v3/ping');
    expect([fresh.status, fresh.headers.get('x-mbx-used-weight-1m')]).toEqual([200, '1']);
  });
});
