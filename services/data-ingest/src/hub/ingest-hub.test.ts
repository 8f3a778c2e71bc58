import type { Candle, Trade } from '@visualgo/market';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MINUTE_MS, T0, testCandle } from '../testing/candles.js';
import type { HistorySource } from './history-source.js';
import { IngestHub } from './ingest-hub.js';
import type { FeedStatusEvent } from './market-hub.js';

const STREAM = 'ethusdt@kline_1m';
const logger = pino({ level: 'silent' });

function makeHub(
  source: Omit<HistorySource, 'tradesBetween'> & Partial<Pick<HistorySource, 'tradesBetween'>>,
  fillAttempts = 2,
) {
  const history: HistorySource = { tradesBetween: async () => [], ...source };
  const hub = new IngestHub({
    exchange: 'binance-sim',
    streams: [
      { stream: STREAM, kind: 'kline', symbol: 'ETHUSDT', interval: '1m' },
      { stream: 'ethusdt@trade', kind: 'trade', symbol: 'ETHUSDT' },
    ],
    historyCandles: 50,
    history,
    logger,
    metrics: new Registry(),
    fillAttempts,
    fillBackoff: { initialMs: 5, maxMs: 10 },
  });
  const closed: number[] = [];
  const status: FeedStatusEvent[] = [];
  hub.subscribe((e) => {
    if (e.data.type === 'candle' && e.data.candle.closed)
      closed.push((e.data.candle.openTimeMs - T0) / MINUTE_MS);
  });
  hub.onStatus((s) => status.push(s));
  return { hub, closed, status };
}

const trade = (tradeId: number): Trade => ({
  type: 'trade',
  exchange: 'binance-sim',
  symbol: 'ETHUSDT',
  tradeId,
  price: 2000,
  quantity: 1,
  tradeTimeMs: T0,
  buyerIsMaker: false,
  eventTimeMs: T0,
  receivedTimeMs: T0 + 1,
});

const rows = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, k) => ({
    candle: testCandle(from + k, true),
    payload: { k: from + k },
  }));
const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('IngestHub', () => {
  it('is ready only once history is loaded and upstream is connected', async () => {
    const { hub } = makeHub({ latestClosed: async () => rows(0, 2), closedBetween: async () => [] });
    expect(hub.isReady()).toBe(false);
    await hub.loadHistory();
    expect(hub.isReady()).toBe(false);
    hub.setConnected(true);
    expect(hub.isReady()).toBe(true);
    expect((await hub.candles(STREAM, {})).map((c) => c.openTimeMs)).toEqual([
      T0,
      T0 + MINUTE_MS,
      T0 + 2 * MINUTE_MS,
    ]);
  });

  it('fills a gap from history and publishes in order, reporting detection and fill', async () => {
    const asked: [number, number][] = [];
    const { hub, closed, status } = makeHub({
      latestClosed: async () => rows(0, 2),
      closedBetween: async (_s, from, to) => {
        asked.push([(from - T0) / MINUTE_MS, (to - T0) / MINUTE_MS]);
        return rows((from - T0) / MINUTE_MS, (to - T0) / MINUTE_MS);
      },
    });
    await hub.loadHistory();
    hub.ingestCandle(STREAM, testCandle(6, false), {});
    await waitFor(() => closed.length === 3);
    // The backfill (0-2) is history, not published; the filled candles are.
    expect(closed).toEqual([3, 4, 5]);
    expect(hub.closedSince(STREAM, 0).map((c) => (c.openTimeMs - T0) / MINUTE_MS)).toEqual([
      0, 1, 2, 3, 4, 5,
    ]);
    expect(asked).toEqual([[3, 5]]);
    expect(status.map((s) => s.kind)).toEqual(['gap-detected', 'gap-filled']);
    expect(hub.openCandle(STREAM)?.openTimeMs).toBe(T0 + 6 * MINUTE_MS);
  });

  it('reports a gap it cannot fill and moves on rather than holding candles forever', async () => {
    let calls = 0;
    const { hub, closed, status } = makeHub({
      latestClosed: async () => rows(0, 2),
      closedBetween: async () => {
        calls++;
        throw new Error('HTTP 500');
      },
    });
    await hub.loadHistory();
    hub.ingestCandle(STREAM, testCandle(5, true), {});
    await waitFor(() => closed.length === 1);
    expect(closed).toEqual([5]);
    expect(calls).toBe(2);
    const unfilled = status.find((s) => s.kind === 'gap-unfilled');
    expect(unfilled).toMatchObject({ fromOpenTimeMs: T0 + 3 * MINUTE_MS, toOpenTimeMs: T0 + 4 * MINUTE_MS });
    expect(unfilled?.detail).toContain('HTTP 500');
  });

  it('starts from live candles when the initial backfill fails', async () => {
    const { hub, closed, status } = makeHub({
      latestClosed: async () => {
        throw new Error('refused');
      },
      closedBetween: async () => [],
    });
    hub.ingestCandle(STREAM, testCandle(7, true), {});
    await hub.loadHistory();
    hub.ingestCandle(STREAM, testCandle(8, true), {});
    expect(closed).toEqual([7, 8]);
    expect(status[0]?.kind).toBe('gap-unfilled');
  });

  it('fills a gap in trade ids from history and publishes every trade once, in order', async () => {
    const asked: [number, number][] = [];
    const { hub, status } = makeHub({
      latestClosed: async () => [],
      closedBetween: async () => [],
      tradesBetween: async (_s, from, to) => {
        asked.push([from, to]);
        return Array.from({ length: to - from + 1 }, (_, k) => ({
          trade: trade(from + k),
          payload: { rest: from + k },
        }));
      },
    });
    const seen: number[] = [];
    const payloads: unknown[] = [];
    hub.subscribe((e) => {
      if (e.data.type === 'trade') {
        seen.push(e.data.trade.tradeId);
        payloads.push(e.binancePayload);
      }
    });
    hub.ingestTrade('ethusdt@trade', trade(10), { live: 10 });
    hub.ingestTrade('ethusdt@trade', trade(14), { live: 14 });
    hub.ingestTrade('ethusdt@trade', trade(15), { live: 15 });
    await waitFor(() => seen.length === 6);
    expect(seen).toEqual([10, 11, 12, 13, 14, 15]);
    expect(asked).toEqual([[11, 13]]);
    expect(payloads).toEqual([
      { live: 10 },
      { rest: 11 },
      { rest: 12 },
      { rest: 13 },
      { live: 14 },
      { live: 15 },
    ]);
    expect(status.map((s) => [s.kind, s.fromTradeId, s.toTradeId])).toEqual([
      ['gap-detected', 11, 13],
      ['gap-filled', 11, 13],
    ]);
  });

  it('reports a trade gap larger than the fill limit without fetching it', async () => {
    let calls = 0;
    const hub = new IngestHub({
      exchange: 'binance-sim',
      streams: [{ stream: 'ethusdt@trade', kind: 'trade', symbol: 'ETHUSDT' }],
      historyCandles: 10,
      history: {
        latestClosed: async () => [],
        closedBetween: async () => [],
        tradesBetween: async () => {
          calls++;
          return [];
        },
      },
      logger,
      metrics: new Registry(),
      maxTradeGapFill: 100,
    });
    const seen: number[] = [];
    const status: FeedStatusEvent[] = [];
    hub.subscribe((e) => {
      if (e.data.type === 'trade') seen.push(e.data.trade.tradeId);
    });
    hub.onStatus((s) => status.push(s));
    hub.ingestTrade('ethusdt@trade', trade(1), {});
    hub.ingestTrade('ethusdt@trade', trade(500), {});
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([1, 500]);
    expect(calls).toBe(0);
    expect(status.at(-1)).toMatchObject({ kind: 'gap-unfilled', fromTradeId: 2, toTradeId: 499 });
    expect(status.at(-1)?.detail).toContain('498 trades missing');
  });

  it('drops duplicate trades from overlapping connections', () => {
    const { hub } = makeHub({ latestClosed: async () => [], closedBetween: async () => [] });
    const seen: number[] = [];
    hub.subscribe((e) => {
      if (e.data.type === 'trade') seen.push(e.data.trade.tradeId);
    });
    for (const id of [1, 2, 2, 3, 1, 4]) hub.ingestTrade('ethusdt@trade', trade(id), {});
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('passes the Binance payload of live candles on to the WebSocket edge and keeps none in history', async () => {
    const { hub } = makeHub({ latestClosed: async () => rows(0, 0), closedBetween: async () => [] });
    const payloads: unknown[] = [];
    hub.subscribe((e) => payloads.push(e.binancePayload));
    await hub.loadHistory();
    const live: Candle = testCandle(1, true);
    hub.ingestCandle(STREAM, live, { live: true });
    expect(payloads).toEqual([{ live: true }]);
    const [backfilled] = hub.closedSince(STREAM, 0);
    expect(backfilled && hub.payloadOf(backfilled)).toBeUndefined();
  });
});
