import { HistoryUnavailable } from '@visualgo/bus';
import type { Candle } from '@visualgo/market';
import { describe, expect, it } from 'vitest';
import { ethCandle, MINUTE_MS, T0 } from '../testing/candles.js';
import { hubWith } from '../testing/recording-bus.js';

const STREAM = 'ethusdt@kline_1m';
const minutes = (cs: readonly Candle[]) => cs.map((c) => (c.openTimeMs - T0) / MINUTE_MS);

/**
 * A hub holding 10 candles (0..9) of an exchange that has every candle from -100 on, and answers
 * each history request only after `during` has run: what the market does while the store waits.
 */
async function storeWithSlowExchange(during: (round: number) => void) {
  let round = 0;
  let published = 9;
  const { hub, store } = hubWith(
    [{ kind: 'kline', symbol: 'ETHUSDT', interval: '1m' }],
    {
      latestClosed: async (_id, count) => Array.from({ length: count }, (_, k) => ethCandle(k, true)),
      closedBetween: async (_id, from, to) => {
        during(round++);
        const out: Candle[] = [];
        for (let i = -100; i <= published; i++) {
          const c = ethCandle(i, true);
          if (c.openTimeMs >= from && c.openTimeMs <= to) out.push(c);
        }
        return out;
      },
      tradesBetween: async () => [],
    },
    { historyCandles: 10 },
  );
  await hub.loadHistory();
  const close = (i: number) => {
    published = Math.max(published, i);
    hub.ingestCandle(STREAM, ethCandle(i, true));
  };
  return { store, close };
}

describe('CandleStore replays', () => {
  it('fetches what a full book let go while older history was fetched: no hole, through the newest', async () => {
    let next = 10;
    const { store, close } = await storeWithSlowExchange((round) => {
      // While the first fetch is out, 15 candles close: the book's 10 move from 0..9 to 15..24.
      if (round === 0) for (let k = 0; k < 15; k++) close(next++);
    });
    const replay = await store.closedSince(STREAM, T0 - 31 * MINUTE_MS);
    expect(minutes(replay)).toEqual(Array.from({ length: 55 }, (_, k) => k - 30));
  });

  it('gives up with HistoryUnavailable when the book keeps moving on faster than the exchange answers', async () => {
    let next = 10;
    const { store, close } = await storeWithSlowExchange(() => {
      for (let k = 0; k < 15; k++) close(next++);
    });
    await expect(store.closedSince(STREAM, T0 - 31 * MINUTE_MS)).rejects.toThrow(
      new HistoryUnavailable('history moved on while the replay was prepared; retry'),
    );
  });

  it('refuses to replay while the start-up history is loading', async () => {
    const { store } = hubWith([{ kind: 'kline', symbol: 'ETHUSDT', interval: '1m' }], {
      latestClosed: async () => [],
      closedBetween: async () => [],
      tradesBetween: async () => [],
    });
    await expect(store.closedSince(STREAM, T0)).rejects.toThrow('history is still loading; retry shortly');
  });
});
