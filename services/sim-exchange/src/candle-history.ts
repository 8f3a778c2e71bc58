import { type Interval, intervalCloseTimeMs, intervalOpenTimeMs, nextOpenTimeMs } from '@visualgo/market';
import { CandleAccumulator, type CandleTotals, emptyTotals, mergeTotals } from './candle-aggregator.js';
import { BLOCK_MS, type BlockTrades, blockOf, lowerBound } from './market-model.js';

/**
 * Trades in one-minute blocks, as candles are derived from them: the seeded model
 * (`SymbolMarket`) or a replay's trade files (`TradeArchive`).
 */
export interface BlockSource {
  /** Upper case: `BTCUSDT`. */
  readonly symbol: string;
  /** First instant with trades. */
  readonly originMs: number;
  readonly originBlock: number;
  /** Price in ticks of the last trade before the block, or null outside the data. */
  openRefTicks(block: number): number | null;
  /** The trades of a block, or null outside the data. */
  blockTrades(block: number): BlockTrades | null;
}

/** One kline as of some instant: its bounds and contents. */
export interface SimCandle {
  readonly symbol: string;
  readonly interval: Interval;
  readonly openTimeMs: number;
  readonly closeTimeMs: number;
  readonly totals: CandleTotals;
  /** True when the instant it was computed for is past the candle's close. */
  readonly closed: boolean;
}

interface PartialMerge {
  readonly openTimeMs: number;
  /** Blocks `[firstBlock, nextBlock)` are merged into `totals`. */
  nextBlock: number;
  totals: CandleTotals | null;
}

/**
 * Candles of every interval derived from a symbol's trades. Whole minutes come from cached
 * per-block totals; a partial minute (and every 1s candle) is aggregated from the trades.
 * Streams and REST both read candles through here, and the arithmetic is exact, so a closed
 * candle is the same whoever asks and however the time was chunked.
 */
export class CandleHistory {
  private readonly blockTotals = new Map<number, CandleTotals>();
  private readonly partials = new Map<Interval, PartialMerge>();

  constructor(readonly market: BlockSource) {}

  get symbol(): string {
    return this.market.symbol;
  }

  /** Earliest open time of a candle of `interval` that has any data. */
  firstOpenTimeMs(interval: Interval): number {
    return intervalOpenTimeMs(interval, this.market.originMs);
  }

  /**
   * The candle of `interval` opening at `openTimeMs`, counting trades with time < `untilMs`.
   * `untilMs` past the close gives the final candle.
   */
  candle(interval: Interval, openTimeMs: number, untilMs: number): SimCandle {
    const closeTimeMs = intervalCloseTimeMs(interval, openTimeMs);
    const end = Math.min(untilMs, closeTimeMs + 1);
    const totals =
      interval === '1s'
        ? this.rangeTotals(openTimeMs, end)
        : this.minuteAlignedTotals(interval, openTimeMs, end);
    return {
      symbol: this.symbol,
      interval,
      openTimeMs,
      closeTimeMs,
      totals,
      closed: untilMs > closeTimeMs,
    };
  }

  /** Candles with open time in [fromOpenMs, toOpenMs], as of `nowMs`, at most `limit`. */
  candles(
    interval: Interval,
    fromOpenMs: number,
    toOpenMs: number,
    nowMs: number,
    limit: number,
  ): SimCandle[] {
    const out: SimCandle[] = [];
    let open = Math.max(intervalOpenTimeMs(interval, fromOpenMs), this.firstOpenTimeMs(interval));
    if (open < fromOpenMs) open = nextOpenTimeMs(interval, open);
    const lastOpen = Math.min(toOpenMs, nowMs);
    while (open <= lastOpen && out.length < limit) {
      out.push(this.candle(interval, open, nowMs));
      open = nextOpenTimeMs(interval, open);
    }
    return out;
  }

  /** Totals of the whole block (minute), cached. */
  blockTotalsOf(block: number): CandleTotals {
    const cached = this.blockTotals.get(block);
    if (cached) return cached;
    const ref = this.market.openRefTicks(block);
    const trades = this.market.blockTrades(block);
    if (ref === null || !trades) return emptyTotals(0);
    const acc = new CandleAccumulator(ref);
    acc.addBlockRange(trades, 0, trades.count);
    const totals = acc.totals();
    this.blockTotals.set(block, totals);
    return totals;
  }

  /** Totals of the trades with `fromMs <= time < toMs` (both within one block or spanning several). */
  rangeTotals(fromMs: number, toMs: number): CandleTotals {
    const start = Math.max(fromMs, this.market.originMs);
    let totals: CandleTotals | null = null;
    if (toMs > start) {
      for (let block = blockOf(start); block * BLOCK_MS < toMs; block++) {
        const blockStart = block * BLOCK_MS;
        const blockEnd = blockStart + BLOCK_MS;
        const part =
          start <= blockStart && toMs >= blockEnd
            ? this.blockTotalsOf(block)
            : this.partialBlock(block, start, toMs);
        totals = totals ? mergeTotals(totals, part) : part;
      }
    }
    return totals ?? emptyTotals(this.lastPriceBefore(start));
  }

  private partialBlock(block: number, fromMs: number, toMs: number): CandleTotals {
    const ref = this.market.openRefTicks(block);
    const trades = this.market.blockTrades(block);
    if (ref === null || !trades) return emptyTotals(0);
    const from = lowerBound(trades.timeMs, trades.count, fromMs);
    const to = lowerBound(trades.timeMs, trades.count, toMs);
    const lastBefore = from > 0 ? (trades.priceTicks[from - 1] ?? ref) : ref;
    const acc = new CandleAccumulator(lastBefore);
    acc.addBlockRange(trades, from, to);
    return acc.totals();
  }

  private lastPriceBefore(timeMs: number): number {
    const block = blockOf(Math.max(timeMs, this.market.originMs));
    const ref = this.market.openRefTicks(block);
    const trades = this.market.blockTrades(block);
    if (ref === null || !trades) return 0;
    const i = lowerBound(trades.timeMs, trades.count, timeMs);
    return i > 0 ? (trades.priceTicks[i - 1] ?? ref) : ref;
  }

  /**
   * Intervals of a minute or more start on block boundaries: merge whole-block totals (the
   * merged prefix of the latest candle asked for is kept, so a live 1d or 1M candle costs one
   * block per minute, not a full re-merge) and then the partial last block.
   */
  private minuteAlignedTotals(interval: Interval, openTimeMs: number, endMs: number): CandleTotals {
    const firstBlock = Math.max(blockOf(openTimeMs), this.market.originBlock);
    const lastWholeBlock = blockOf(endMs) - 1; // blocks < blockOf(endMs) end at or before endMs
    let partial = this.partials.get(interval);
    if (!partial || partial.openTimeMs !== openTimeMs || partial.nextBlock > lastWholeBlock + 1) {
      partial = { openTimeMs, nextBlock: firstBlock, totals: null };
      this.partials.set(interval, partial);
    }
    for (; partial.nextBlock <= lastWholeBlock; partial.nextBlock++) {
      const block = this.blockTotalsOf(partial.nextBlock);
      partial.totals = partial.totals ? mergeTotals(partial.totals, block) : block;
    }
    let totals = partial.totals;
    const tailStart = Math.max(partial.nextBlock * BLOCK_MS, this.market.originMs);
    if (endMs > tailStart) {
      const tail = this.partialBlock(blockOf(tailStart), tailStart, endMs);
      totals = totals ? mergeTotals(totals, tail) : tail;
    }
    return totals ?? emptyTotals(this.lastPriceBefore(Math.max(openTimeMs, this.market.originMs)));
  }
}
