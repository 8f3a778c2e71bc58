import type { Trade } from '@visualgo/market';
import { describe, expect, it } from 'vitest';
import { ethCandle, MINUTE_MS, T0 } from '../testing/candles.js';
import { hubWith } from '../testing/recording-bus.js';
import type { HistorySource } from './history-source.js';

const STREAM = 'ethusdt@kline_1m';

function makeHub(
  source: Omit<HistorySource, 'tradesBetween'> & Partial<Pick<HistorySource, 'tradesBetween'>>,
  fillAttempts = 2,
) {
  return hubWith(
    [
      { kind: 'kline', symbol: 'ETHUSDT', interval: '1m' },
      { kind: 'trade', symbol: 'ETHUSDT' },
    ],
    { tradesBetween: async () => [], ...source },
    { fillAttempts, fillBackoff: { initialMs: 5, maxMs: 10 } },
  );
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
  Array.from({ length: to - from + 1 }, (_, k) => ethCandle(from + k, true));
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
    const { hub, store, closed, status } = makeHub({
      latestClosed: async () => rows(0, 2),
      closedBetween: async (_s, from, to) => {
        asked.push([(from - T0) / MINUTE_MS, (to - T0) / MINUTE_MS]);
        return rows((from - T0) / MINUTE_MS, (to - T0) / MINUTE_MS);
      },
    });
    await hub.loadHistory();
    hub.ingestCandle(STREAM, ethCandle(6, false));
    await waitFor(() => closed.length === 3);
    // The backfill (0-2) is history, not published; the filled candles are.
    expect(closed).toEqual([3, 4, 5]);
    expect(
      store
        .stream(STREAM)
        ?.book.closedSince(0)
        .map((c) => (c.openTimeMs - T0) / MINUTE_MS),
    ).toEqual([0, 1, 2, 3, 4, 5]);
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
    hub.ingestCandle(STREAM, ethCandle(5, true));
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
    hub.ingestCandle(STREAM, ethCandle(7, true));
    await hub.loadHistory();
    hub.ingestCandle(STREAM, ethCandle(8, true));
    expect(closed).toEqual([7, 8]);
    expect(status[0]?.kind).toBe('gap-unfilled');
  });

  it('fills a gap in trade ids from history and publishes every trade once, in order', async () => {
    const asked: [number, number][] = [];
    const { hub, status, trades, events } = makeHub({
      latestClosed: async () => [],
      closedBetween: async () => [],
      tradesBetween: async (_s, from, to) => {
        asked.push([from, to]);
        return Array.from({ length: to - from + 1 }, (_, k) => trade(from + k));
      },
    });
    hub.ingestTrade('ethusdt@trade', trade(10));
    hub.ingestTrade('ethusdt@trade', trade(14));
    hub.ingestTrade('ethusdt@trade', trade(15));
    await waitFor(() => trades.length === 6);
    expect(trades).toEqual([10, 11, 12, 13, 14, 15]);
    expect(asked).toEqual([[11, 13]]);
    // Each trade's sequence number is its id, on its stream.
    expect(events.flatMap((e) => (e.type === 'trade' ? [[e.stream, e.seq]] : []))).toEqual(
      [10, 11, 12, 13, 14, 15].map((id) => ['ethusdt@trade', id]),
    );
    expect(status.map((s) => [s.kind, s.stream, s.fromTradeId, s.toTradeId])).toEqual([
      ['gap-detected', 'ethusdt@trade', 11, 13],
      ['gap-filled', 'ethusdt@trade', 11, 13],
    ]);
  });

  it('reports a trade gap larger than the fill limit without fetching it', async () => {
    let calls = 0;
    const { hub, trades, status } = hubWith(
      [{ kind: 'trade', symbol: 'ETHUSDT' }],
      {
        latestClosed: async () => [],
        closedBetween: async () => [],
        tradesBetween: async () => {
          calls++;
          return [];
        },
      },
      { maxTradeGapFill: 100 },
    );
    hub.ingestTrade('ethusdt@trade', trade(1));
    hub.ingestTrade('ethusdt@trade', trade(500));
    await waitFor(() => trades.length === 2);
    expect(trades).toEqual([1, 500]);
    expect(calls).toBe(0);
    expect(status.at(-1)).toMatchObject({ kind: 'gap-unfilled', fromTradeId: 2, toTradeId: 499 });
    expect(status.at(-1)?.detail).toContain('498 trades missing');
  });

  it('drops duplicate trades from overlapping connections', () => {
    const { hub, trades } = makeHub({ latestClosed: async () => [], closedBetween: async () => [] });
    for (const id of [1, 2, 2, 3, 1, 4]) hub.ingestTrade('ethusdt@trade', trade(id));
    expect(trades).toEqual([1, 2, 3, 4]);
  });

  it('publishes exchange-neutral events numbered by candle, status about the stream or the whole feed', async () => {
    const { hub, events } = makeHub({ latestClosed: async () => rows(0, 0), closedBetween: async () => [] });
    await hub.loadHistory();
    hub.setConnected(true, '1 stream on c1');
    hub.ingestCandle(STREAM, ethCandle(1, false));
    hub.ingestCandle(STREAM, ethCandle(1, true));
    // Nothing of the exchange's wire form travels: the events are plain domain data.
    expect(events).toEqual([
      {
        type: 'status',
        stream: '',
        seq: 0,
        status: { kind: 'connected', detail: '1 stream on c1', timeMs: expect.any(Number) },
      },
      { type: 'candle', stream: STREAM, seq: (T0 + MINUTE_MS) / MINUTE_MS, candle: ethCandle(1, false) },
      { type: 'candle', stream: STREAM, seq: (T0 + MINUTE_MS) / MINUTE_MS, candle: ethCandle(1, true) },
    ]);
  });
});
