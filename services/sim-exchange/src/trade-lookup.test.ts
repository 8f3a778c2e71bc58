import { describe, expect, it } from 'vitest';
import { BLOCK_MS, MarketModel } from './market-model.js';
import { blockOfTradeId, latestTrades, tradesFromId } from './trade-lookup.js';

const ORIGIN = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;
const NOW = ORIGIN + 9 * DAY + 12 * 3_600_000 + 34_567;

function market(symbol: string) {
  return new MarketModel({ seed: 'trade-lookup', originMs: ORIGIN }).symbol(symbol);
}

describe('blockOfTradeId', () => {
  it('finds the minute holding an id, at either end of the minute', () => {
    const m = market('BTCUSDT');
    const lastBlock = Math.floor(NOW / BLOCK_MS);
    for (const block of [m.originBlock, m.originBlock + 1, m.originBlock + 4_321, lastBlock]) {
      const info = m.blockInfo(block);
      if (!info || info.trades === 0) throw new Error(`block ${block} has no trade`);
      expect(blockOfTradeId(m, info.firstTradeId, lastBlock)).toBe(block);
      expect(blockOfTradeId(m, info.firstTradeId + info.trades - 1, lastBlock)).toBe(block);
    }
  });

  it('skips quiet minutes, starts at the first trade for older ids and gives null past the last', () => {
    const m = market('BNBBTC');
    const lastBlock = m.originBlock + 2_000;
    let quiet = m.originBlock + 1;
    while ((m.blockInfo(quiet)?.trades ?? 1) > 0) quiet++;
    const id = m.blockInfo(quiet)?.firstTradeId ?? 0;
    let holder = quiet + 1;
    while ((m.blockInfo(holder)?.trades ?? 0) === 0) holder++;
    expect(blockOfTradeId(m, id, lastBlock)).toBe(holder);
    let first = m.originBlock;
    while ((m.blockInfo(first)?.trades ?? 0) === 0) first++;
    expect(blockOfTradeId(m, 0, lastBlock)).toBe(first);
    const last = m.blockInfo(lastBlock);
    expect(blockOfTradeId(m, (last?.firstTradeId ?? 0) + (last?.trades ?? 0), lastBlock)).toBeNull();
  });
});

describe('tradesFromId', () => {
  it('equals the trades by time from that id on, across minutes and a day boundary', () => {
    const m = market('ETHUSDT');
    const from = ORIGIN + 3 * DAY - 7 * BLOCK_MS + 12_345;
    const expected = m.trades(from, from + 120 * BLOCK_MS).slice(0, 1_000);
    expect(expected).toHaveLength(1_000);
    const first = expected[0];
    if (!first) throw new Error('no trade in range');
    const got = tradesFromId(m, first.tradeId, NOW, 1_000);
    expect(got).toEqual(expected);
    expect(got.at(-1)?.timeMs).toBeGreaterThan(ORIGIN + 3 * DAY);
  });

  it('never returns a trade at or after the until time', () => {
    const m = market('BTCUSDT');
    const ahead = m.trades(NOW, NOW + BLOCK_MS);
    const next = ahead[0];
    if (!next) throw new Error('no trade ahead');
    const got = tradesFromId(m, next.tradeId - 3, next.timeMs, 1_000);
    // `next` is the first trade at or after NOW, so the three before it are all earlier.
    expect(got.map((t) => t.tradeId)).toEqual([next.tradeId - 3, next.tradeId - 2, next.tradeId - 1]);
    expect(tradesFromId(m, next.tradeId, next.timeMs, 10)).toEqual([]);
  });

  // How fast (about as fast as a recent id, whatever the distance) is `npm run bench`'s check.
  it('finds an id nine days back', () => {
    const m = market('BTCUSDT');
    latestTrades(m, NOW, 1); // builds the minute chain up to now, as serving streams does
    const old = m.trades(ORIGIN + 6 * 3_600_000, ORIGIN + 6 * 3_600_000 + BLOCK_MS)[0];
    if (!old) throw new Error('no trade');
    const got = tradesFromId(m, old.tradeId + 17, NOW, 1_000);
    expect(got[0]?.tradeId).toBe(old.tradeId + 17);
    expect(got).toHaveLength(1_000);
  });
});

describe('latestTrades', () => {
  it('ends at the last trade before the until time and holds `limit` consecutive ids', () => {
    const m = market('BTCUSDT');
    const expected = m.trades(NOW - 10 * BLOCK_MS, NOW).slice(-700);
    expect(latestTrades(m, NOW, 700)).toEqual(expected);
  });

  it('leaves out a trade stamped exactly at the until time', () => {
    const m = market('ETHUSDT');
    const next = m.trades(NOW, NOW + BLOCK_MS)[0];
    if (!next) throw new Error('no trade ahead');
    const got = latestTrades(m, next.timeMs, 5);
    expect(got.at(-1)?.timeMs).toBeLessThan(next.timeMs);
    expect(got.at(-1)?.tradeId).toBe(m.trades(next.timeMs - 2 * BLOCK_MS, next.timeMs).at(-1)?.tradeId);
  });

  it('starts at the first trade when history is shorter than the limit, and is empty before the origin', () => {
    const m = market('BNBBTC');
    const early = m.trades(ORIGIN, ORIGIN + 3 * BLOCK_MS);
    expect(latestTrades(m, ORIGIN + 3 * BLOCK_MS, 1_000)).toEqual(early);
    expect(latestTrades(m, ORIGIN, 10)).toEqual([]);
    expect(latestTrades(m, ORIGIN - DAY, 10)).toEqual([]);
  });
});
