import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Trade } from './candle.js';
import { TradeBook } from './trade-book.js';

const trade = (tradeId: number): Trade => ({
  type: 'trade',
  exchange: 'binance-sim',
  symbol: 'BTCUSDT',
  tradeId,
  price: 60_000 + tradeId,
  quantity: 0.01,
  tradeTimeMs: 1_700_000_000_000 + tradeId,
  buyerIsMaker: tradeId % 2 === 0,
  eventTimeMs: 1_700_000_000_000 + tradeId,
  receivedTimeMs: 1_700_000_000_001 + tradeId,
});
const ids = (ts: readonly Trade[]) => ts.map((t) => t.tradeId);

describe('TradeBook', () => {
  it('starts at the first trade and releases consecutive ids at once', () => {
    const book = new TradeBook();
    expect(ids(book.offer(trade(100)).publish)).toEqual([100]);
    expect(ids(book.offer(trade(101)).publish)).toEqual([101]);
    expect(book.offer(trade(101)).dropped).toBe('duplicate');
    expect(book.offer(trade(50)).dropped).toBe('duplicate');
  });

  it('holds trades after a missing id, reports the gap once, and releases in order after the fill', () => {
    const book = new TradeBook();
    book.offer(trade(1));
    const r = book.offer(trade(5));
    expect(r.dropped).toBe('held');
    expect(r.gap).toEqual({ fromId: 2, toId: 4 });
    expect(book.offer(trade(6)).gap).toBeNull();
    const f = book.fill([trade(2), trade(3), trade(4), trade(5), trade(9)]);
    expect(ids(f.publish)).toEqual([2, 3, 4, 5, 6]);
    expect(f.unfilled).toEqual([]);
    expect(book.pendingGap).toBeNull();
  });

  it('declares ids the fill could not supply unfilled and moves on', () => {
    const book = new TradeBook();
    book.offer(trade(1));
    book.offer(trade(6));
    const f = book.fill([trade(2), trade(4)]);
    expect(ids(f.publish)).toEqual([2, 4, 6]);
    expect(f.unfilled).toEqual([
      { fromId: 3, toId: 3 },
      { fromId: 5, toId: 5 },
    ]);
  });

  it('a live trade arriving during the fill closes the gap without duplicates', () => {
    const book = new TradeBook();
    book.offer(trade(1));
    book.offer(trade(3));
    expect(ids(book.offer(trade(2)).publish)).toEqual([2, 3]);
    expect(ids(book.fill([trade(2), trade(3)], { fromId: 2, toId: 2 }).publish)).toEqual([]);
  });

  it('releases every trade exactly once and in id order, whatever the arrival order and duplication', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 120 }), (arrivals) => {
        const book = new TradeBook();
        const out: Trade[] = [];
        const fillAll = (gap: { fromId: number; toId: number } | null) => {
          let g = gap;
          while (g) {
            const r = book.fill(
              Array.from({ length: g.toId - g.fromId + 1 }, (_, k) => trade((g?.fromId ?? 0) + k)),
            );
            out.push(...r.publish);
            g = r.gap;
          }
        };
        for (const id of arrivals) {
          const r = book.offer(trade(id));
          out.push(...r.publish);
          fillAll(r.gap);
        }
        const got = ids(out);
        for (let i = 1; i < got.length; i++) expect(got[i]).toBe((got[i - 1] ?? 0) + 1);
        expect(got[0]).toBe(arrivals[0]);
        expect(book.heldCount).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
