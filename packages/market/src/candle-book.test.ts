import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Candle } from './candle.js';
import { CandleBook } from './candle-book.js';

const M = 60_000;
const T0 = 1_660_435_200_000;
const SERIES = { exchange: 'binance-sim', symbol: 'ETHUSDT', interval: '1m' } as const;

function candle(i: number, closed: boolean, eventOffsetMs = closed ? M : 1_000): Candle {
  const openTimeMs = T0 + i * M;
  return {
    type: 'candle',
    exchange: 'binance-sim',
    symbol: 'ETHUSDT',
    interval: '1m',
    openTimeMs,
    closeTimeMs: openTimeMs + M - 1,
    open: 100 + i,
    high: 101 + i,
    low: 99 + i,
    close: 100.5 + i,
    volume: 10,
    quoteVolume: 1005 + 10 * i,
    takerBuyVolume: 4,
    takerBuyQuoteVolume: 402,
    trades: 5,
    firstTradeId: i * 5,
    lastTradeId: i * 5 + 4,
    closed,
    eventTimeMs: openTimeMs + eventOffsetMs,
    receivedTimeMs: openTimeMs + eventOffsetMs + 3,
  };
}
const idx = (cs: readonly Candle[]) => cs.map((c) => `${(c.openTimeMs - T0) / M}${c.closed ? '' : 'o'}`);

function anchored(n: number, capacity = 100): CandleBook {
  const book = new CandleBook(SERIES, capacity);
  book.anchor(Array.from({ length: n }, (_, i) => candle(i, true)));
  return book;
}

describe('CandleBook', () => {
  it('keeps the backfill as history without releasing it, then releases live closed candles in order', () => {
    const book = new CandleBook(SERIES, 100);
    expect(idx(book.anchor([candle(1, true), candle(0, true), candle(2, false)]).publish)).toEqual([]);
    expect(idx(book.closedSince(0))).toEqual(['0', '1']);
    expect(idx(book.offer(candle(2, false)).publish)).toEqual(['2o']);
    expect(idx(book.offer(candle(2, true)).publish)).toEqual(['2']);
    expect(book.openCandle).toBeUndefined();
    expect(book.nextExpectedOpenTimeMs).toBe(T0 + 3 * M);
  });

  it('holds live candles that arrive during the backfill and drops the overlap', () => {
    const book = new CandleBook(SERIES, 100);
    expect(book.offer(candle(3, true)).dropped).toBe('held');
    expect(book.offer(candle(4, false)).dropped).toBe('held');
    const r = book.anchor([0, 1, 2, 3].map((i) => candle(i, true)));
    expect(idx(r.publish)).toEqual(['4o']);
    expect(idx(book.closedSince(0))).toEqual(['0', '1', '2', '3']);
    expect(r.gap).toBeNull();
  });

  it('keeps the newest open update while a gap is open, not one that arrives late', () => {
    const book = anchored(3);
    expect(book.offer(candle(5, false)).gap).not.toBeNull();
    expect(book.offer(candle(4, false)).dropped).toBe('stale');
    expect(idx(book.fill([candle(3, true), candle(4, true)]).publish)).toEqual(['3', '4', '5o']);
  });

  it('drops duplicates from overlapping connections', () => {
    const book = anchored(3);
    expect(book.offer(candle(2, true)).dropped).toBe('duplicate');
    expect(idx(book.offer(candle(3, false)).publish)).toEqual(['3o']);
    expect(book.offer(candle(3, false)).dropped).toBe('duplicate');
    expect(book.offer(candle(3, false, 500)).dropped).toBe('stale');
    expect(idx(book.offer(candle(3, true)).publish)).toEqual(['3']);
    expect(book.offer(candle(3, true)).dropped).toBe('duplicate');
    expect(book.offer(candle(3, false, 2_000)).dropped).toBe('stale');
  });

  it('reports a gap once when a closed candle arrives ahead, and releases in order after the fill', () => {
    const book = anchored(3);
    const r1 = book.offer(candle(6, true));
    expect(r1.dropped).toBe('held');
    expect(r1.gap).toEqual({ fromOpenTimeMs: T0 + 3 * M, toOpenTimeMs: T0 + 5 * M });
    expect(book.offer(candle(7, false)).gap).toBeNull();
    const r2 = book.fill([
      candle(3, true),
      candle(4, true),
      candle(5, true),
      candle(6, true),
      candle(9, true),
    ]);
    expect(idx(r2.publish)).toEqual(['3', '4', '5', '6', '7o']);
    expect(r2.unfilled).toEqual([]);
    expect(book.pendingGap).toBeNull();
  });

  it('detects candles that closed while disconnected from an open update further ahead', () => {
    const book = anchored(3);
    const r = book.offer(candle(5, false));
    expect(r.gap).toEqual({ fromOpenTimeMs: T0 + 3 * M, toOpenTimeMs: T0 + 4 * M });
    expect(idx(book.fill([candle(3, true), candle(4, true), candle(5, false)]).publish)).toEqual([
      '3',
      '4',
      '5o',
    ]);
  });

  it('declares what the fill could not supply unfilled and moves on', () => {
    const book = anchored(3);
    book.offer(candle(7, true));
    const r = book.fill([candle(3, true), candle(5, true)]);
    expect(idx(r.publish)).toEqual(['3', '5', '7']);
    expect(r.unfilled).toEqual([
      { fromOpenTimeMs: T0 + 4 * M, toOpenTimeMs: T0 + 4 * M },
      { fromOpenTimeMs: T0 + 6 * M, toOpenTimeMs: T0 + 6 * M },
    ]);
    expect(book.pendingGap).toBeNull();
    expect(r.gap).toBeNull();
  });

  it('serves history queries from the newest capacity candles', () => {
    const book = anchored(10, 5);
    expect(idx(book.closedSince(T0 + 6 * M))).toEqual(['7', '8', '9']);
    expect(idx(book.closedSince(0))).toEqual(['5', '6', '7', '8', '9']);
    expect(idx(book.range(undefined, undefined, 2))).toEqual(['8', '9']);
    expect(idx(book.range(T0 + 6 * M, T0 + 8 * M, 10))).toEqual(['6', '7', '8']);
    expect(idx(book.range(T0 + 6 * M, undefined, 2))).toEqual(['6', '7']);
  });

  it('releases every closed candle exactly once and in order, whatever the arrival order and duplication', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ i: fc.integer({ min: 0, max: 40 }), dup: fc.boolean() }), { maxLength: 80 }),
        fc.integer({ min: 0, max: 10 }),
        (arrivals, backfillCount) => {
          const book = new CandleBook(SERIES, 1_000);
          const out: Candle[] = [];
          const fillAll = (gap: { fromOpenTimeMs: number; toOpenTimeMs: number } | null) => {
            while (gap) {
              const from = (gap.fromOpenTimeMs - T0) / M;
              const to = (gap.toOpenTimeMs - T0) / M;
              const r = book.fill(Array.from({ length: to - from + 1 }, (_, k) => candle(from + k, true)));
              out.push(...r.publish);
              gap = r.gap;
            }
          };
          for (const a of arrivals.slice(0, 5)) out.push(...book.offer(candle(a.i, true)).publish);
          const r0 = book.anchor(Array.from({ length: backfillCount }, (_, i) => candle(i, true)));
          out.push(...r0.publish);
          fillAll(r0.gap);
          for (const a of arrivals) {
            for (const c of a.dup ? [candle(a.i, true), candle(a.i, true)] : [candle(a.i, true)]) {
              const r = book.offer(c);
              out.push(...r.publish);
              fillAll(r.gap);
            }
          }
          const closedIdx = out.filter((c) => c.closed).map((c) => c.openTimeMs);
          for (let k = 1; k < closedIdx.length; k++) {
            expect(closedIdx[k]).toBe((closedIdx[k - 1] ?? 0) + M);
          }
          expect(new Set(closedIdx).size).toBe(closedIdx.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('CandleBook history coverage', () => {
  it('is complete from the backfill start, extends with prepended history and moves on eviction', () => {
    const book = new CandleBook(SERIES, 10);
    book.anchor(
      [5, 6, 7].map((i) => candle(i, true)),
      T0 + 2 * M,
    );
    expect(book.coveredFromMs).toBe(T0 + 2 * M);
    expect(
      book.prepend(
        [0, 1].map((i) => candle(i, true)),
        T0 - 3 * M,
        T0 + M,
      ),
    ).toBe(2);
    expect(book.coveredFromMs).toBe(T0 - 3 * M);
    expect(idx(book.closedSince(0))).toEqual(['0', '1', '5', '6', '7']);
    // More history than fits: complete only from what was kept.
    const book2 = new CandleBook(SERIES, 5);
    book2.anchor([10, 11, 12].map((i) => candle(i, true)));
    // A range that stops short of the kept history would leave a hole: ignored.
    expect(
      book2.prepend(
        [6, 7, 8].map((i) => candle(i, true)),
        T0 + 6 * M,
        T0 + 8 * M,
      ),
    ).toBe(0);
    expect(
      book2.prepend(
        [6, 7, 8, 9].map((i) => candle(i, true)),
        T0 + 6 * M,
        T0 + 9 * M,
      ),
    ).toBe(2);
    expect(book2.coveredFromMs).toBe(T0 + 8 * M);
    expect(book2.isFull).toBe(true);
    book2.offer(candle(13, true));
    expect(book2.coveredFromMs).toBe(T0 + 9 * M);
    expect(book2.size).toBe(5);
  });
});
