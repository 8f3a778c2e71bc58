/**
 * The Binance adapter against the simulated exchange (services/sim-exchange), which speaks
 * Binance Spot's protocol: REST paging and validation, live streams, and a serverShutdown
 * switch-over, checked against the exchange's own ground truth.
 */
import { nextOpenTimeMs } from '@visualgo/market';
import { createLogger } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinanceStreamClient, type DisconnectedEvent, type KlineUpdate } from './binance-client.js';
import { BinanceHistorySource } from './binance-history-source.js';
import { klineRowToCandle } from './binance-mapper.js';
import { BinanceRestClient } from './binance-rest.js';
import { waitFor } from './fake-binance-streams.js';

const STREAM = 'ethusdt@kline_1m';
const MINUTE = 60_000;
const logger = createLogger({ name: 'binance-sim-test', level: 'silent' });

let sim: SimExchange;

beforeAll(async () => {
  // 600x: a one-minute candle closes every 100 ms of wall time.
  // Two days of history: the 1500-minute range below must fit even just after midnight UTC.
  sim = await startSimExchange({ port: 0, speed: 600, symbols: ['ETHUSDT'], historyDays: 2 });
}, 20_000);

afterAll(async () => {
  await sim?.close();
});

describe('BinanceRestClient against the simulated exchange', () => {
  it('pages a range of more than 1000 klines identical to the exchange ground truth', async () => {
    const rest = new BinanceRestClient({ baseUrl: sim.httpUrl, exchange: 'binance-sim', logger });
    const serverNow = await rest.serverTime();
    expect(Math.abs(serverNow - sim.marketNowMs())).toBeLessThan(60 * MINUTE);
    const from = sim.originMs - (sim.originMs % MINUTE);
    const to = from + 1499 * MINUTE;
    const rows = await rest.klinesRange({
      symbol: 'ETHUSDT',
      interval: '1m',
      fromOpenTimeMs: from,
      toOpenTimeMs: to,
    });
    expect(rows.length).toBe(1500);
    expect(rows).toEqual(sim.truth.klineRows(STREAM, { startTimeMs: from, endTimeMs: to }));
    for (const row of rows) {
      const candle = klineRowToCandle(row, {
        exchange: 'binance-sim',
        symbol: 'ETHUSDT',
        interval: '1m',
        receivedTimeMs: 0,
      });
      expect(candle.ok).toBe(true);
    }
    expect(rest.stats().usedWeight).toBeGreaterThan(0);
  });

  it('pages a range of more than 1000 trade ids identical to the exchange ground truth', async () => {
    const rest = new BinanceRestClient({ baseUrl: sim.httpUrl, exchange: 'binance-sim', logger });
    const truth = sim.truth.trades('ETHUSDT', { startTimeMs: sim.originMs, limit: 2_500 });
    const firstId = truth[0]?.tradeId;
    const lastId = truth.at(-1)?.tradeId;
    if (firstId === undefined || lastId === undefined) throw new Error('no trades in history');
    const fromId = firstId + 10;
    const rows = await rest.tradesRange({ symbol: 'ETHUSDT', fromId, toId: lastId });
    expect(rows.map((r) => r.id)).toEqual(truth.filter((t) => t.tradeId >= fromId).map((t) => t.tradeId));
    const source = new BinanceHistorySource(rest, 'binance-sim');
    const mapped = await source.tradesBetween(
      { kind: 'trade', symbol: 'ETHUSDT' },
      fromId,
      fromId + 1_499,
      new AbortController().signal,
    );
    const fields = (t: {
      tradeId: number;
      price: number;
      quantity: number;
      tradeTimeMs: number;
      buyerIsMaker: boolean;
    }) => [t.tradeId, t.price, t.quantity, t.tradeTimeMs, t.buyerIsMaker];
    expect(mapped.map(fields)).toEqual(
      truth.filter((t) => t.tradeId >= fromId && t.tradeId <= fromId + 1_499).map(fields),
    );
    expect(mapped[0]).toMatchObject({
      type: 'trade',
      exchange: 'binance-sim',
      symbol: 'ETHUSDT',
      tradeId: fromId,
    });
  });
});

describe('BinanceStreamClient against the simulated exchange', () => {
  it('delivers every closed candle across a serverShutdown switch-over, matching ground truth', async () => {
    const client = new BinanceStreamClient({
      wsBaseUrl: sim.wsUrl,
      streams: [STREAM, 'ethusdt@trade'],
      exchange: 'binance-sim',
      logger,
      backoff: { initialMs: 20, maxMs: 200 },
      switchoverTimeoutMs: 1000,
    });
    const closed = new Map<number, KlineUpdate>();
    const disconnected: DisconnectedEvent[] = [];
    let trades = 0;
    client.on('kline', (u) => {
      if (u.candle.closed) closed.set(u.candle.openTimeMs, u);
    });
    client.on('trade', () => trades++);
    client.on('disconnected', (e) => disconnected.push(e));
    client.start();
    try {
      await waitFor(() => closed.size >= 5, 10_000, 'closed candles');
      expect(sim.serverShutdown({ closeAfterMs: 300 })).toBe(1);
      await waitFor(() => client.stats().switchovers === 1, 5000, 'switch-over');
      const afterSwitch = closed.size;
      await waitFor(() => closed.size >= afterSwitch + 5, 10_000, 'closed candles after the switch');

      expect(disconnected.length).toBe(1);
      expect(disconnected[0]?.planned).toBe(true);
      expect(client.stats().reconnects).toBe(0);
      expect(client.stats().malformed).toBe(0);
      expect(trades).toBeGreaterThan(0);

      const openTimes = [...closed.keys()].sort((a, b) => a - b);
      const first = openTimes[0] ?? 0;
      const last = openTimes.at(-1) ?? 0;
      for (let t = first; t <= last; t = nextOpenTimeMs('1m', t)) expect(closed.has(t)).toBe(true);

      const truth = sim.truth.candles(STREAM, { startTimeMs: first, endTimeMs: last });
      expect(truth.length).toBe(openTimes.length);
      for (const expected of truth) {
        const got = closed.get(expected.openTimeMs)?.candle;
        expect({ ...got, eventTimeMs: 0, receivedTimeMs: 0 }).toEqual({
          ...expected,
          eventTimeMs: 0,
          receivedTimeMs: 0,
        });
      }
    } finally {
      await client.stop();
    }
  }, 30_000);
});
