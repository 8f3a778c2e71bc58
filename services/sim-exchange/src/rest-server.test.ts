import {
  type BinanceHistoricalTrade,
  type BinanceKlineRow,
  binanceExchangeInfo,
  binanceHistoricalTrades,
  binanceKlineEvent,
  binanceKlineRows,
  binanceRestError,
  binanceServerTime,
  binanceTradeEvent,
} from '@visualgo/contracts';
import type { Trade } from '@visualgo/market';
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

async function trades(s: SimExchange, path: string): Promise<BinanceHistoricalTrade[]> {
  const res = await get(s, path);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return binanceHistoricalTrades.parse(res.body);
}

/** The fields a trade row shares with a ground-truth trade, in the ground truth's terms. */
function asTruth(rows: readonly BinanceHistoricalTrade[]) {
  return rows.map((r) => ({
    tradeId: r.id,
    price: Number(r.price),
    quantity: Number(r.qty),
    tradeTimeMs: r.time,
    buyerIsMaker: r.isBuyerMaker,
  }));
}

function truthFields(list: readonly Trade[]) {
  return list.map((t) => ({
    tradeId: t.tradeId,
    price: t.price,
    quantity: t.quantity,
    tradeTimeMs: t.tradeTimeMs,
    buyerIsMaker: t.buyerIsMaker,
  }));
}

/** Pages `historicalTrades` from `fromId` until `count` trades are collected or history ends. */
async function pageFrom(s: SimExchange, symbol: string, fromId: number, count: number, limit: number) {
  const out: BinanceHistoricalTrade[] = [];
  let next = fromId;
  while (out.length < count) {
    const page = await trades(s, `/api/v3/historicalTrades?symbol=${symbol}&fromId=${next}&limit=${limit}`);
    out.push(...page);
    const last = page.at(-1);
    if (!last || page.length < limit) break;
    next = last.id + 1;
  }
  return out.slice(0, count);
}

describe('GET /api/v3/historicalTrades and /api/v3/trades', () => {
  const DAY = 86_400_000;
  const MIDNIGHT = Date.UTC(2025, 0, 15);

  it('pages from an id across minutes and midnight to exactly the ground truth', async () => {
    const s = await start();
    s.advance(45_000);
    const truth = s.truth.trades('BTCUSDT', {
      startTimeMs: MIDNIGHT - 7 * 60_000,
      endTimeMs: MIDNIGHT + 8 * 60_000,
    });
    const first = truth[0];
    if (!first) throw new Error('no trade around midnight');
    const rows = await pageFrom(s, 'BTCUSDT', first.tradeId, truth.length, 700);
    expect(rows.at(-1)?.time).toBeGreaterThan(MIDNIGHT);
    expect(asTruth(rows)).toEqual(truthFields(truth));
    for (let i = 1; i < rows.length; i++) expect(rows[i]?.id).toBe((rows[i - 1]?.id ?? 0) + 1);
    // quoteQty is price × qty exactly (BTCUSDT needs 7 of the 8 decimals).
    for (const r of rows) expect(e8(r.quoteQty) * 100_000_000n).toBe(e8(r.price) * e8(r.qty));
    expect(rows.every((r) => r.isBestMatch)).toBe(true);
  });

  it('finds ids days back and pages through quiet minutes of a thin symbol', async () => {
    const s = await start();
    const dayOne = s.truth.trades('ETHUSDT', { startTimeMs: s.originMs + 3_600_000, limit: 2_000 });
    const from = dayOne[137];
    if (!from) throw new Error('no trade on the first day');
    const rows = await pageFrom(s, 'ETHUSDT', from.tradeId, 1_500, 1_000);
    expect(asTruth(rows)).toEqual(truthFields(dayOne.slice(137, 137 + 1_500)));

    const hour = s.truth.trades('BNBBTC', { startTimeMs: START - DAY - 3_600_000, endTimeMs: START - DAY });
    const thin = hour[0];
    if (!thin) throw new Error('no BNBBTC trade');
    const paged = await pageFrom(s, 'BNBBTC', thin.tradeId, hour.length, 100);
    expect(asTruth(paged)).toEqual(truthFields(hour));
  });

  it('serves the trades the trade stream sent, and none it has not sent yet', async () => {
    const s = await start();
    const client = await TestClient.open(`${s.wsUrl}/ws/ethusdt@trade`);
    try {
      await s.waitForConnections(1);
      s.advance(20_000);
      const sent = s.truth.trades('ETHUSDT', { startTimeMs: START }).length;
      expect(sent).toBeGreaterThan(10);
      await client.waitForFrames(sent);
      const streamed = client.json().map((m) => binanceTradeEvent.parse(m));
      const firstId = streamed[0]?.t ?? 0;
      const rows = await trades(s, `/api/v3/historicalTrades?symbol=ETHUSDT&fromId=${firstId}&limit=1000`);
      expect(rows.map(({ quoteQty: _quoteQty, ...r }) => r)).toEqual(
        streamed.map((e) => ({
          id: e.t,
          price: e.p,
          qty: e.q,
          time: e.T,
          isBuyerMaker: e.m,
          isBestMatch: e.M,
        })),
      );
    } finally {
      client.close();
    }
  });

  it('answers without fromId with the latest trades, ending at the last one before market time', async () => {
    const s = await start();
    s.advance(30_500);
    const now = s.marketNowMs();
    const truth = s.truth.trades('BTCUSDT', { startTimeMs: now - 30 * 60_000 });
    const latest = await trades(s, '/api/v3/trades?symbol=BTCUSDT');
    expect(latest).toHaveLength(500);
    expect(asTruth(latest)).toEqual(truthFields(truth.slice(-500)));
    expect(latest.at(-1)?.time).toBeLessThan(now);
    expect(await trades(s, '/api/v3/historicalTrades?symbol=BTCUSDT')).toEqual(latest);
    expect(await trades(s, '/api/v3/trades?symbol=BTCUSDT&limit=3')).toEqual(latest.slice(-3));
    const lastId = latest.at(-1)?.id ?? 0;
    expect(await trades(s, `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${lastId + 1}`)).toEqual([]);
    s.advance(60_000);
    const later = await trades(s, `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${lastId + 1}&limit=1`);
    expect(later.map((r) => r.id)).toEqual([lastId + 1]);
  });

  it('defaults limit to 500, caps it at 1000 and starts at the first trade for ids before it', async () => {
    const s = await start();
    const path = '/api/v3/historicalTrades?symbol=BNBBTC';
    const first = s.truth.trades('BNBBTC', { startTimeMs: s.originMs, limit: 1 })[0];
    expect(await trades(s, `${path}&fromId=0`)).toHaveLength(500);
    expect((await trades(s, `${path}&fromId=0&limit=1`)).map((r) => r.id)).toEqual([first?.tradeId]);
    expect(await trades(s, `${path}&fromId=0&limit=1000`)).toHaveLength(1000);
    expect(await trades(s, `${path}&fromId=0&limit=5000`)).toHaveLength(1000);
    expect(await trades(s, '/api/v3/trades?symbol=BNBBTC&limit=5000')).toHaveLength(1000);
  });

  it('rejects bad parameters with Binance’s error codes', async () => {
    const s = await start();
    const cases: [string, number][] = [
      ['/api/v3/trades', -1102],
      ['/api/v3/historicalTrades?limit=5', -1102],
      ['/api/v3/trades?symbol=btcusdt', -1100],
      ['/api/v3/trades?symbol=BTCUSDT&limit=abc', -1100],
      ['/api/v3/trades?symbol=BTCUSDT&limit=-1', -1100],
      ['/api/v3/trades?symbol=BTCUSDT&limit=0', -1130],
      ['/api/v3/historicalTrades?symbol=BTCUSDT&fromId=abc', -1100],
      ['/api/v3/historicalTrades?symbol=BTCUSDT&fromId=-5', -1100],
      ['/api/v3/historicalTrades?symbol=BTCUSDT&fromId=99999999999999999999', -1130],
    ];
    for (const [path, code] of cases) {
      const res = await get(s, path);
      expect(res.status, path).toBe(400);
      expect(binanceRestError.parse(res.body).code, path).toBe(code);
    }
    for (const path of [
      '/api/v3/trades?symbol=XYZUSDT',
      '/api/v3/historicalTrades?symbol=XYZUSDT&fromId=1',
    ]) {
      const res = await get(s, path);
      expect([res.status, res.body]).toEqual([400, { code: -1121, msg: 'Invalid symbol.' }]);
    }
    const zero = binanceRestError.parse((await get(s, '/api/v3/trades?symbol=BTCUSDT&limit=0')).body);
    expect(zero.msg).toBe("Data sent for parameter 'limit' is not valid.");
  });

  it('charges weight 25, needs no API key, and honours the limit and injected faults', async () => {
    const wall = Date.UTC(2025, 0, 1, 0, 0, 10);
    const s = await start({ restWeightLimit: 60, wallNowMs: () => wall });
    const one = await get(s, '/api/v3/trades?symbol=ETHUSDT&limit=1');
    expect([one.status, one.headers.get('x-mbx-used-weight-1m')]).toEqual([200, '25']);
    const keyed = await fetch(`${s.httpUrl}/api/v3/historicalTrades?symbol=ETHUSDT&limit=1`, {
      headers: { 'X-MBX-APIKEY': 'any-key' },
    });
    expect([keyed.status, keyed.headers.get('x-mbx-used-weight')]).toEqual([200, '50']);
    const limited = await get(s, '/api/v3/historicalTrades?symbol=ETHUSDT&limit=1');
    expect([limited.status, limited.headers.get('x-mbx-used-weight-1m')]).toEqual([429, '75']);
    expect(binanceRestError.parse(limited.body).code).toBe(-1003);

    s.resetRequestWeight();
    s.injectRestFault({ mode: '429', count: 1, pathPrefix: '/api/v3/historicalTrades', retryAfterSec: 4 });
    expect((await get(s, '/api/v3/trades?symbol=ETHUSDT&limit=1')).status).toBe(200);
    const faulted = await get(s, '/api/v3/historicalTrades?symbol=ETHUSDT&limit=1');
    expect([faulted.status, faulted.headers.get('retry-after')]).toEqual([429, '4']);
    expect((await get(s, '/api/v3/historicalTrades?symbol=ETHUSDT&limit=1')).status).toBe(200);

    const metrics = await (await fetch(`${s.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /sim_rest_requests_total\{[^}]*path="\/api\/v3\/historicalTrades"[^}]*status="429"[^}]*\} 2/,
    );
    expect(metrics).toMatch(
      /sim_rest_requests_total\{[^}]*path="\/api\/v3\/trades"[^}]*status="200"[^}]*\} 2/,
    );
  });
});
