import type { Trade } from './candle.js';

/** An inclusive range of trade ids missing from a stream. */
export interface TradeGap {
  readonly fromId: number;
  readonly toId: number;
}

export interface TradeBookResult {
  /** Trades to publish now, in id order. */
  readonly publish: readonly Trade[];
  /** A gap that needs filling and was not reported before; the caller fetches it and calls `fill`. */
  readonly gap: TradeGap | null;
  readonly dropped: 'duplicate' | 'held' | null;
}

const NONE: readonly Trade[] = [];

/**
 * The rule that every trade of a symbol is released exactly once and in id order. Binance trade
 * ids are consecutive per symbol, so a missing id is a missed trade: a trade that arrives ahead
 * of the next expected id is held and the missing ids are reported as a gap for the caller to
 * fill; once filled (or declared unfillable) the held trades are released in order. Duplicates,
 * from overlapping connections during a switch, are dropped.
 *
 * The first trade seen starts the sequence: trades before it are history, not gaps.
 */
export class TradeBook {
  private expected: number | null = null;
  private readonly held = new Map<number, Trade>();
  private reported: TradeGap | null = null;

  /** Id of the next trade to release, once the sequence has started. */
  get nextExpectedId(): number | null {
    return this.expected;
  }

  get pendingGap(): TradeGap | null {
    return this.reported;
  }

  /** Trades waiting for a gap before them to be filled. */
  get heldCount(): number {
    return this.held.size;
  }

  offer(trade: Trade): TradeBookResult {
    if (this.expected === null) this.expected = trade.tradeId;
    if (trade.tradeId < this.expected || this.held.has(trade.tradeId)) {
      return { publish: NONE, gap: null, dropped: 'duplicate' };
    }
    if (trade.tradeId === this.expected && this.held.size === 0) {
      this.expected++;
      return { publish: [trade], gap: null, dropped: null };
    }
    this.held.set(trade.tradeId, trade);
    const released = this.drain([]);
    if (released.length > 0) return { publish: released, gap: this.reportGap(), dropped: null };
    return { publish: NONE, gap: this.reportGap(), dropped: 'held' };
  }

  /**
   * Supplies trades fetched for a gap (those within it are used), then resolves it: ids still
   * missing are declared unfillable and skipped, so later trades are not held forever.
   */
  fill(
    trades: readonly Trade[],
    gap: TradeGap | null = this.reported,
  ): TradeBookResult & {
    readonly unfilled: readonly TradeGap[];
  } {
    for (const t of trades) {
      if (this.expected === null || t.tradeId < this.expected) continue;
      if (gap && t.tradeId > gap.toId) continue;
      if (!this.held.has(t.tradeId)) this.held.set(t.tradeId, t);
    }
    const released = this.drain([]);
    const unfilled: TradeGap[] = [];
    while (gap && this.expected !== null && this.expected <= gap.toId) {
      const resume = this.firstHeld() ?? gap.toId + 1;
      unfilled.push({ fromId: this.expected, toId: resume - 1 });
      this.expected = resume;
      this.drain(released);
    }
    this.reported = null;
    return { publish: released, gap: this.reportGap(), dropped: null, unfilled };
  }

  private drain(out: Trade[]): Trade[] {
    while (this.expected !== null) {
      const next = this.held.get(this.expected);
      if (!next) break;
      this.held.delete(this.expected);
      out.push(next);
      this.expected++;
    }
    return out;
  }

  private reportGap(): TradeGap | null {
    if (this.reported || this.expected === null) return null;
    const first = this.firstHeld();
    if (first === null) return null;
    this.reported = { fromId: this.expected, toId: first - 1 };
    return this.reported;
  }

  private firstHeld(): number | null {
    let min: number | null = null;
    for (const id of this.held.keys()) if (min === null || id < min) min = id;
    return min;
  }
}
