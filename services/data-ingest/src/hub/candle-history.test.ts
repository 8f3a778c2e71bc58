import { HistoryUnavailable, ReplayOutOfRange } from '@visualgo/bus';
import { type Candle, formatStreamName, intervalCloseTimeMs, openTimeOfCandleIndex } from '@visualgo/market';
import { describe, expect, it } from 'vitest';
import { ethCandle, MINUTE_MS, T0 } from '../testing/candles.js';
import { hubWith } from '../testing/recording-bus.js';
import type { HistorySource } from './history-source.js';

const STREAM = 'ethusdt@kline_1m';
const WEEKLY = 'ethusdt@kline_1w';

/**
 * A REST API over a market of 1m candles -20 000..9 (a hole at -7 000..-6 001, an exchange
 * outage) and 1w candles from 2017-08-14: counts what it is asked, fails while `down`.
 */
function exchange() {
  const calls: { stream: string; from: number; to: number; limit: number | undefined }[] = [];
  const state = { down: false, delayMs: 0 };
  const weekly = (k: number): Candle => {
    const openTimeMs = Date.UTC(2017, 7, 14) + k * 7 * 86_400_000;
    return {
      ...ethCandle(0, true),
      interval: '1w',
      openTimeMs,
      closeTimeMs: intervalCloseTimeMs('1w', openTimeMs),
    };
  };
  const source: HistorySource = {
    latestClosed: async (d, count) => {
      if (d.interval === '1w') return Array.from({ length: 3 }, (_, k) => weekly(300 + k));
      return Array.from({ length: count }, (_, k) => ethCandle(10 - count + k, true));
    },
    closedBetween: async (d, from, to, _signal, limit) => {
      calls.push({ stream: formatStreamName(d), from, to, limit });
      if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
      if (state.down) throw new Error('HTTP 502');
      const out: Candle[] = [];
      if (d.interval === '1w') {
        for (let k = 0; k < 303; k++) {
          const c = weekly(k);
          if (c.openTimeMs >= from && c.openTimeMs <= to) out.push(c);
        }
      } else {
        const first = Math.ceil((from - T0) / MINUTE_MS);
        for (let i = Math.max(first, -20_000); T0 + i * MINUTE_MS <= to && i < 10; i++) {
          if (i >= -7_000 && i <= -6_001) continue;
          out.push(ethCandle(i, true));
        }
      }
      return limit === undefined ? out : out.slice(0, limit);
    },
    tradesBetween: async () => [],
  };
  return { source, calls, state };
}

async function makeHub(
  options: { holdDays?: number; cacheCandles?: number; maxReplayCandles?: number } = {},
) {
  const ex = exchange();
  const { hub, store } = hubWith(
    [
      { kind: 'kline', symbol: 'ETHUSDT', interval: '1m' },
      { kind: 'kline', symbol: 'ETHUSDT', interval: '1w' },
    ],
    ex.source,
    {
      historyCandles: 10,
      holdDays: options.holdDays ?? 0,
      cacheCandles: options.cacheCandles ?? 200_000,
      maxReplayCandles: options.maxReplayCandles ?? 100_000,
    },
  );
  await hub.loadHistory();
  const coveredFromMs = (stream: string) => store.stream(stream)?.book.coveredFromMs ?? null;
  return { hub, store, coveredFromMs, ...ex };
}

const minutes = (cs: readonly Candle[]) => cs.map((c) => (c.openTimeMs - T0) / MINUTE_MS);

describe('history beyond what is held', () => {
  it('answers ranges before the held candles from the exchange, Binance style', async () => {
    const { hub, coveredFromMs } = await makeHub();
    expect(coveredFromMs(STREAM)).toBe(T0);
    const from = await hub.candles(STREAM, { startTimeMs: T0 - 1_500 * MINUTE_MS, limit: 1_000 });
    expect(minutes(from)).toEqual(Array.from({ length: 1_000 }, (_, k) => k - 1_500));
    // Reaching into the held candles, across the boundary.
    const across = await hub.candles(STREAM, { startTimeMs: T0 - 3 * MINUTE_MS, limit: 6 });
    expect(minutes(across)).toEqual([-3, -2, -1, 0, 1, 2]);
    // The last `limit` up to an end before the held candles.
    const before = await hub.candles(STREAM, { endTimeMs: T0 - 101 * MINUTE_MS, limit: 5 });
    expect(minutes(before)).toEqual([-105, -104, -103, -102, -101]);
    // The last `limit`, partly held: the rest comes from before.
    const latest = await hub.candles(STREAM, { limit: 13 });
    expect(minutes(latest)).toEqual([-3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('skips an outage instead of walking its empty pages, and stops before the first candle', async () => {
    const { hub, calls } = await makeHub();
    const afterHole = await hub.candles(STREAM, { startTimeMs: T0 - 7_200 * MINUTE_MS, limit: 1_000 });
    expect(minutes(afterHole).slice(199, 202)).toEqual([-7_001, -6_000, -5_999]);
    expect(afterHole).toHaveLength(1_000);
    // A week series from 1970: one empty page, one seek to 2017, then the data.
    calls.length = 0;
    const weeks = await hub.candles(WEEKLY, { startTimeMs: 0, limit: 5 });
    expect(weeks.map((c) => new Date(c.openTimeMs).toISOString().slice(0, 10))).toEqual([
      '2017-08-14',
      '2017-08-21',
      '2017-08-28',
      '2017-09-04',
      '2017-09-11',
    ]);
    expect(calls.length).toBeLessThanOrEqual(3);
    // Backwards past the first candle ends with what exists.
    const oldest = await hub.candles(STREAM, { endTimeMs: T0 - 19_990 * MINUTE_MS, limit: 1_000 });
    expect(minutes(oldest)).toEqual(Array.from({ length: 11 }, (_, k) => k - 20_000));
  });

  it('fetches each page once for concurrent clients and serves repeats from the cache', async () => {
    const { hub, calls, state } = await makeHub();
    state.delayMs = 20;
    const ask = () => hub.candles(STREAM, { startTimeMs: T0 - 2_500 * MINUTE_MS, limit: 1_000 });
    const answers = await Promise.all(Array.from({ length: 20 }, ask));
    for (const a of answers) expect(a).toEqual(answers[0]);
    const pages = calls.filter((c) => c.limit === undefined);
    expect(new Set(pages.map((c) => c.from)).size).toBe(pages.length);
    expect(pages.length).toBeLessThanOrEqual(3);
    const before = calls.length;
    expect(await ask()).toEqual(answers[0]);
    expect(calls.length).toBe(before);
  });

  it('keeps a bounded page cache, oldest pages out first', async () => {
    const { hub, calls } = await makeHub({ cacheCandles: 2_000 });
    const page = (k: number) =>
      hub.candles(STREAM, { startTimeMs: openTimeOfCandleIndex('1m', k * 1_000), limit: 1_000 });
    const base = Math.floor((T0 - 15_000 * MINUTE_MS) / MINUTE_MS / 1_000);
    for (const k of [0, 1, 2]) await page(base + k);
    calls.length = 0;
    await page(base + 2);
    await page(base + 1);
    expect(calls).toHaveLength(0);
    await page(base);
    expect(calls).toHaveLength(1);
  });

  it('keeps older history it has room for, so that later requests need no exchange', async () => {
    const { hub, store, calls, coveredFromMs } = await makeHub({ holdDays: 3 });
    const replay = await store.closedSince(STREAM, T0 - 2_001 * MINUTE_MS);
    expect(minutes(replay)).toEqual(Array.from({ length: 2_010 }, (_, k) => k - 2_000));
    expect(coveredFromMs(STREAM)).toBe(T0 - 2_000 * MINUTE_MS);
    calls.length = 0;
    expect(minutes(await store.closedSince(STREAM, T0 - 2_001 * MINUTE_MS)).slice(0, 2)).toEqual([
      -2_000, -1_999,
    ]);
    const served = await hub.candles(STREAM, { startTimeMs: T0 - 1_000 * MINUTE_MS, limit: 1_000 });
    expect(served).toHaveLength(1_000);
    expect(calls).toHaveLength(0);
  });

  it('refuses a replay beyond its limit and reports an exchange that fails', async () => {
    const { hub, store, state } = await makeHub({ maxReplayCandles: 1_000 });
    await expect(store.closedSince(STREAM, T0 - 1_002 * MINUTE_MS)).rejects.toBeInstanceOf(ReplayOutOfRange);
    const replay = await store.closedSince(STREAM, T0 - 1_001 * MINUTE_MS);
    expect(minutes(replay)).toEqual(Array.from({ length: 1_010 }, (_, k) => k - 1_000));
    state.down = true;
    await expect(
      hub.candles(STREAM, { startTimeMs: T0 - 5_000 * MINUTE_MS, limit: 10 }),
    ).rejects.toBeInstanceOf(HistoryUnavailable);
    // Held candles need no exchange.
    expect(minutes(await hub.candles(STREAM, { limit: 3 }))).toEqual([7, 8, 9]);
  });
});
