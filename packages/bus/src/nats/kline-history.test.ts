import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { type Candle, candleIndexOf, openTimeOfCandleIndex } from '@visualgo/market';
import { TestNatsServer, testCandle } from '@visualgo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayOutOfRange } from '../bus-errors.js';
import { candleEvent } from '../market-event.js';
import { KlineHistory } from './kline-history.js';
import { KlineWriter } from './kline-writer.js';
import { ensureStreams, KLINE_STREAM } from './nats-streams.js';

const T0 = Date.UTC(2024, 2, 4);
const BASE = candleIndexOf('1m', T0);
const openTime = (k: number) => openTimeOfCandleIndex('1m', BASE + k);
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBBTC'] as const;
const stream = (symbol: string) => `${symbol.toLowerCase()}@kline_1m`;
/** Candles 0..1499 with holes (the market had none then): 700..709 and 1200. */
const HELD = Array.from({ length: 1_500 }, (_, k) => k).filter((k) => (k < 700 || k > 709) && k !== 1200);
/** The store keeps this many per stream: candles 0..99 of the 1,489 written fall out. */
const KEEP = HELD.length - 100;

let server: TestNatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let history: KlineHistory;

beforeAll(async () => {
  server = await TestNatsServer.start();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, { klineHistory: KEEP });
  const js = jetstream(nc);
  const writer = new KlineWriter(js, jsm, { venue: 'binance-sim', alive: () => true });
  // Streams interleaved in the store, as they are in production; a few batches of all three.
  for (let from = 0; from < HELD.length; from += 250) {
    const batch = HELD.slice(from, from + 250).flatMap((k) =>
      SYMBOLS.map((symbol) =>
        candleEvent(stream(symbol), testCandle({ symbol, openTimeMs: openTime(k), close: k })),
      ),
    );
    await writer.store(batch);
  }
  history = new KlineHistory(js, jsm, { venue: 'binance-sim' });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const kept = HELD.slice(-KEEP);
const ks = (candles: readonly Candle[]) => candles.map((c) => c.close);

describe('KlineHistory', () => {
  it('keeps the last max_msgs_per_subject candles of each stream', async () => {
    const info = await jsm.streams.info(KLINE_STREAM);
    expect(info.state.messages).toBe(KEEP * SYMBOLS.length);
    expect((await history.oldest(stream('ETHUSDT')))?.candle.close).toBe(kept[0]);
    expect((await history.newest(stream('ETHUSDT')))?.candle.close).toBe(1_499);
  });

  it('replays every stored candle after any point, short reads and long ones alike', async () => {
    const points = [
      99.5, 100, 101, 650, 699, 700, 705, 709, 710, 1_000, 1_199, 1_200, 1_201, 1_480, 1_498, 1_499, 1_600,
    ];
    for (const symbol of SYMBOLS) {
      for (const p of points) {
        const since = openTime(Math.floor(p)) + (p % 1 === 0 ? 0 : 30_000);
        const expected = kept.filter((k) => openTime(k) > since);
        expect(ks(await history.closedSince(stream(symbol), since)), `${symbol} after ${p}`).toEqual(
          expected,
        );
      }
    }
  });

  it('refuses a replay from before the oldest stored candle with ReplayOutOfRange', async () => {
    await expect(history.closedSince(stream('BTCUSDT'), openTime(50))).rejects.toBeInstanceOf(
      ReplayOutOfRange,
    );
    await expect(history.closedSince(stream('BTCUSDT'), openTime(98))).rejects.toBeInstanceOf(
      ReplayOutOfRange,
    );
    expect(ks(await history.closedSince(stream('BTCUSDT'), openTime(99))).length).toBe(KEEP);
  });

  it('answers ranges by open time: from a start, or the last ones before an end, across holes', async () => {
    const btc = stream('BTCUSDT');
    expect(ks(await history.range(btc, { startTimeMs: openTime(695), limit: 8 }))).toEqual([
      695, 696, 697, 698, 699, 710, 711, 712,
    ]);
    expect(ks(await history.range(btc, { endTimeMs: openTime(712), limit: 8, fromEnd: true }))).toEqual([
      695, 696, 697, 698, 699, 710, 711, 712,
    ]);
    expect(
      ks(await history.range(btc, { startTimeMs: openTime(1_198), endTimeMs: openTime(1_202), limit: 100 })),
    ).toEqual([1_198, 1_199, 1_201, 1_202]);
    expect(ks(await history.range(btc, { limit: 3, fromEnd: true }))).toEqual([1_497, 1_498, 1_499]);
    expect(ks(await history.range(btc, { limit: 2 }))).toEqual([kept[0], kept[1]]);
    expect(await history.range(btc, { startTimeMs: openTime(1_500), limit: 10 })).toEqual([]);
    const all = await history.range(btc, { limit: 10_000, fromEnd: true });
    expect(ks(all)).toEqual(kept);
  });

  it('reads nothing for a stream never stored', async () => {
    expect(await history.closedSince('dogeusdt@kline_1m', 0)).toEqual([]);
    expect(await history.newest('dogeusdt@kline_1m')).toBeNull();
    expect(await history.latestState('dogeusdt@kline_1m')).toBeNull();
  });
});
