import type { Candle } from './candle.js';
import { CandleColumns, type CandleSeriesId } from './candle-columns.js';
import { type Interval, intervalNominalMs, nextOpenTimeMs } from './interval.js';

/** An inclusive range of candle open times that is missing from a stream's history. */
export interface CandleGap {
  readonly fromOpenTimeMs: number;
  readonly toOpenTimeMs: number;
}

export interface CandleBookResult {
  /** Candles to publish now, in order: released closed candles, then at most one open update. */
  readonly publish: readonly Candle[];
  /** A gap that needs filling and was not reported before; the caller fetches it and calls `fill`. */
  readonly gap: CandleGap | null;
  /** Why the offered candle itself was not published, if it was not. */
  readonly dropped: 'duplicate' | 'stale' | 'held' | null;
}

const NOTHING: CandleBookResult = { publish: [], gap: null, dropped: null };

function previousOpen(interval: Interval, openTimeMs: number, anchor: number): number {
  if (interval !== '1M') return Math.max(anchor, openTimeMs - intervalNominalMs(interval));
  // Months differ in length: walk forward from a known open time (gaps of months are short).
  let t = anchor;
  let prev = anchor;
  while (t < openTimeMs) {
    prev = t;
    t = nextOpenTimeMs(interval, t);
  }
  return prev;
}

/**
 * The history of one kline stream and the rule that every closed candle is released exactly
 * once, in open-time order, whatever the connection did: duplicates (overlapping connections,
 * backfill overlap) are dropped; a closed candle that arrives ahead of the next expected one is
 * held, and the missing range is reported as a gap for the caller to fill; once filled (or
 * declared unfillable) the held candles are released in order.
 *
 * Open-candle updates are provisional: they pass through live, except while a gap is open or
 * before the book is anchored, when only the latest is kept and released afterwards.
 *
 * Until `anchor` is called (with the initial backfill, possibly empty) nothing is released, so
 * live candles arriving during the backfill are not mistaken for the start of history.
 *
 * Released closed candles are kept, compactly ({@link CandleColumns}), up to `capacity`; older
 * history can be added in front of them (`prepend`). `coveredFromMs` says from which open time
 * the kept history is complete.
 */
export class CandleBook {
  readonly interval: Interval;
  private readonly closed: CandleColumns;
  private coveredFrom: number | null = null;
  private readonly held = new Map<number, Candle>();
  private heldOpen: Candle | null = null;
  private current: Candle | null = null;
  private expectedNext: number | null = null;
  private anchored = false;
  private reportedGap: CandleGap | null = null;

  constructor(
    series: CandleSeriesId,
    /** Closed candles kept for replay and history requests. */
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('CandleBook capacity must be a positive integer');
    this.interval = series.interval;
    this.closed = new CandleColumns(series, capacity);
  }

  /**
   * Open time from which every closed candle the market has is kept (the oldest kept candle's,
   * or earlier when the history before it is known to be empty); null before anything is kept.
   */
  get coveredFromMs(): number | null {
    return this.coveredFrom ?? this.closed.oldestOpenTimeMs;
  }

  /** Bytes allocated for the kept candles. */
  get byteLength(): number {
    return this.closed.byteLength;
  }

  /** Whether `prepend` has room for more history. */
  get isFull(): boolean {
    return this.closed.isFull;
  }

  /**
   * Adds history before the oldest kept candle: `candles` are every closed candle the market has
   * with open time in [fromOpenTimeMs, throughOpenTimeMs] (ascending), a range that must reach the
   * kept history (`throughOpenTimeMs` at or after the candle before `coveredFromMs`). Returns how
   * many were kept; when they all fit, the history is complete from `fromOpenTimeMs`. A range that
   * does not reach the kept history (it moved on meanwhile) is ignored: it would leave a hole.
   */
  prepend(candles: readonly Candle[], fromOpenTimeMs: number, throughOpenTimeMs: number): number {
    const covered = this.coveredFromMs;
    const oldest = this.closed.oldestOpenTimeMs;
    if (covered === null || oldest === null) return 0;
    if (nextOpenTimeMs(this.interval, throughOpenTimeMs) < covered) return 0;
    const older = candles.filter((c) => c.closed && c.openTimeMs < oldest);
    const added = this.closed.prepend(older);
    // Complete from `fromOpenTimeMs` only if every candle of the range was kept.
    if (added === older.length) this.coveredFrom = Math.min(covered, fromOpenTimeMs);
    else this.coveredFrom = null;
    return added;
  }

  /** Candles `prepend` can still add. */
  get room(): number {
    return this.capacity - this.closed.size;
  }

  get isAnchored(): boolean {
    return this.anchored;
  }

  /** Open time of the next closed candle to be released, once known. */
  get nextExpectedOpenTimeMs(): number | null {
    return this.expectedNext;
  }

  /** Open time of the last released closed candle. */
  get lastClosedOpenTimeMs(): number | null {
    return this.closed.newestOpenTimeMs;
  }

  get openCandle(): Candle | undefined {
    return this.current ?? undefined;
  }

  /** The gap currently waiting to be filled, if any. */
  get pendingGap(): CandleGap | null {
    return this.reportedGap;
  }

  get size(): number {
    return this.closed.size;
  }

  /**
   * Starts the history with closed candles from a backfill (any order; open candles ignored),
   * without releasing them, then releases whatever live candles were held meanwhile and follow
   * it. With an empty backfill the first held candle starts the history.
   */
  anchor(backfill: readonly Candle[], coveredFromMs?: number): CandleBookResult {
    if (this.anchored) return this.fill(backfill);
    this.anchored = true;
    if (coveredFromMs !== undefined) this.coveredFrom = coveredFromMs;
    const first = backfill.find((c) => c.closed);
    if (coveredFromMs !== undefined && first !== undefined && first.openTimeMs < coveredFromMs)
      throw new RangeError('the backfill starts before the time it is said to cover from');
    const sorted = backfill.filter((c) => c.closed).sort((a, b) => a.openTimeMs - b.openTimeMs);
    for (const c of sorted) {
      if (this.expectedNext !== null && c.openTimeMs < this.expectedNext) continue;
      this.append(c);
      this.expectedNext = nextOpenTimeMs(this.interval, c.openTimeMs);
    }
    // The backfill is history, not news: it is kept for replay and queries but not released,
    // so subscribers present during start-up do not receive old candles as live ones.
    const out: Candle[] = [];
    this.drain(out);
    if (this.expectedNext === null) {
      const first = this.firstHeld();
      if (first !== null) {
        this.expectedNext = first;
        this.drain(out);
      } else if (this.heldOpen) this.expectedNext = this.heldOpen.openTimeMs;
    }
    return this.release(out);
  }

  /** Offers one live candle state (open or closed). */
  offer(candle: Candle): CandleBookResult {
    if (candle.closed) return this.offerClosed(candle);
    return this.offerOpen(candle);
  }

  /**
   * Supplies candles fetched for a gap (closed ones within it are used; others ignored), then
   * resolves the gap: whatever is still missing is declared unfillable and skipped.
   */
  fill(
    candles: readonly Candle[],
    gap: CandleGap | null = this.reportedGap,
  ): CandleBookResult & {
    /** Holes in the gap that the fill did not supply, now skipped for good. */
    readonly unfilled: readonly CandleGap[];
  } {
    const out: Candle[] = [];
    for (const c of [...candles].sort((a, b) => a.openTimeMs - b.openTimeMs)) {
      if (!c.closed || this.expectedNext === null || c.openTimeMs < this.expectedNext) continue;
      if (gap && c.openTimeMs > gap.toOpenTimeMs) continue;
      if (!this.held.has(c.openTimeMs)) this.held.set(c.openTimeMs, c);
    }
    const unfilled: CandleGap[] = [];
    const released = this.drain(out);
    while (gap && this.expectedNext !== null && this.expectedNext <= gap.toOpenTimeMs) {
      // Still missing after the fill: skip each hole so later candles are not held forever.
      const resumeAt = this.firstHeld() ?? nextOpenTimeMs(this.interval, gap.toOpenTimeMs);
      unfilled.push({
        fromOpenTimeMs: this.expectedNext,
        toOpenTimeMs: previousOpen(this.interval, resumeAt, this.expectedNext),
      });
      this.expectedNext = resumeAt;
      this.drain(released);
    }
    this.reportedGap = null;
    const result = this.release(released);
    return { ...result, unfilled };
  }

  /** Closed candles with open time strictly after `sinceOpenTimeMs`, oldest first. */
  closedSince(sinceOpenTimeMs: number): readonly Candle[] {
    return this.closed.slice(this.closed.lowerBound(sinceOpenTimeMs + 1));
  }

  /** Closed candles with open time within [start, end], oldest first, at most `limit` (the most recent when unbounded below). */
  range(startTimeMs: number | undefined, endTimeMs: number | undefined, limit: number): readonly Candle[] {
    const lo = this.closed.lowerBound(startTimeMs ?? Number.NEGATIVE_INFINITY);
    const hi = endTimeMs === undefined ? this.closed.size : this.closed.lowerBound(endTimeMs + 1);
    if (hi <= lo) return [];
    return startTimeMs === undefined
      ? this.closed.slice(Math.max(lo, hi - limit), hi)
      : this.closed.slice(lo, Math.min(hi, lo + limit));
  }

  private offerClosed(c: Candle): CandleBookResult {
    if (!this.anchored) {
      this.held.set(c.openTimeMs, c);
      return { ...NOTHING, dropped: 'held' };
    }
    if (this.expectedNext === null) this.expectedNext = c.openTimeMs;
    if (c.openTimeMs < this.expectedNext || this.held.has(c.openTimeMs))
      return { ...NOTHING, dropped: 'duplicate' };
    if (c.openTimeMs === this.expectedNext && this.held.size === 0 && !this.heldOpen && !this.reportedGap) {
      // The common case: the next candle, nothing pending.
      this.append(c);
      this.expectedNext = nextOpenTimeMs(this.interval, c.openTimeMs);
      if (this.current && this.current.openTimeMs < this.expectedNext) this.current = null;
      return { publish: [c], gap: null, dropped: null };
    }
    this.held.set(c.openTimeMs, c);
    const released = this.drain([]);
    if (released.length === 0) {
      return { publish: [], gap: this.reportGap(c.openTimeMs), dropped: 'held' };
    }
    return this.release(released);
  }

  private offerOpen(c: Candle): CandleBookResult {
    const cur = this.current;
    if (
      cur &&
      (c.openTimeMs < cur.openTimeMs || (c.openTimeMs === cur.openTimeMs && c.eventTimeMs < cur.eventTimeMs))
    ) {
      return { ...NOTHING, dropped: 'stale' };
    }
    if (cur && c.openTimeMs === cur.openTimeMs && c.eventTimeMs === cur.eventTimeMs) {
      return { ...NOTHING, dropped: 'duplicate' };
    }
    const lastClosed = this.lastClosedOpenTimeMs;
    if (lastClosed !== null && c.openTimeMs <= lastClosed) return { ...NOTHING, dropped: 'stale' };
    if (!this.anchored || this.held.size > 0 || this.reportedGap) {
      // Keep only the newest held update: an older one arriving late must not replace it.
      const held = this.heldOpen;
      if (
        held &&
        (c.openTimeMs < held.openTimeMs ||
          (c.openTimeMs === held.openTimeMs && c.eventTimeMs <= held.eventTimeMs))
      ) {
        return { ...NOTHING, dropped: 'stale' };
      }
      this.heldOpen = c;
      return { ...NOTHING, dropped: 'held' };
    }
    if (this.expectedNext !== null && c.openTimeMs > this.expectedNext) {
      // The candle(s) before this one closed while we were not listening.
      this.heldOpen = c;
      return { publish: [], gap: this.reportGap(c.openTimeMs), dropped: 'held' };
    }
    this.current = c;
    return { publish: [c], gap: null, dropped: null };
  }

  /** Reports [expectedNext, open before `aheadOpenTimeMs`] unless an overlapping gap is already out. */
  private reportGap(aheadOpenTimeMs: number): CandleGap | null {
    if (this.expectedNext === null || this.reportedGap) return null;
    this.reportedGap = {
      fromOpenTimeMs: this.expectedNext,
      toOpenTimeMs: previousOpen(this.interval, aheadOpenTimeMs, this.expectedNext),
    };
    return this.reportedGap;
  }

  /** Moves held closed candles that are next in line into history. */
  private drain(out: Candle[]): Candle[] {
    if (this.expectedNext !== null) {
      for (const t of this.held.keys()) if (t < this.expectedNext) this.held.delete(t);
    }
    while (this.expectedNext !== null) {
      const next = this.held.get(this.expectedNext);
      if (!next) break;
      this.held.delete(this.expectedNext);
      this.append(next);
      out.push(next);
      this.expectedNext = nextOpenTimeMs(this.interval, next.openTimeMs);
    }
    return out;
  }

  /** Finishes a release: reports a new gap if candles are still held, or lets the held open update through. */
  private release(released: Candle[]): CandleBookResult {
    let gap: CandleGap | null = null;
    const first = this.firstHeld();
    if (first !== null) {
      gap = this.reportGap(first);
    } else if (this.heldOpen && this.anchored && !this.reportedGap) {
      const open = this.heldOpen;
      this.heldOpen = null;
      if (this.expectedNext !== null && open.openTimeMs > this.expectedNext) {
        this.heldOpen = open;
        gap = this.reportGap(open.openTimeMs);
      } else if (this.expectedNext === null || open.openTimeMs === this.expectedNext) {
        this.current = open;
        released.push(open);
      }
    }
    if (this.current && this.expectedNext !== null && this.current.openTimeMs < this.expectedNext)
      this.current = null;
    return { publish: released, gap, dropped: null };
  }

  private firstHeld(): number | null {
    let min: number | null = null;
    for (const t of this.held.keys()) if (min === null || t < min) min = t;
    return min;
  }

  private append(c: Candle): void {
    // Evicting the oldest candle moves the complete history's start to the next one.
    if (this.closed.isFull) this.coveredFrom = null;
    this.closed.push(c);
  }
}
