import { HistoryUnavailable, ReplayOutOfRange } from '@visualgo/bus';
import {
  type Candle,
  type CandleBook,
  type CandleSeriesId,
  candleIndexOf,
  type Interval,
  intervalOpenTimeMs,
  type KlineStreamId,
  nextOpenTimeMs,
  openTimeOfCandleIndex,
} from '@visualgo/market';
import { type HistoryPager, PAGE_CANDLES } from './history-pager.js';

export interface CandleHistoryOptions {
  readonly pager: HistoryPager;
  /** Candles a resume may replay from beyond the held history. */
  readonly maxReplayCandles: number;
  readonly signal: AbortSignal;
}

export interface HistoryQuery {
  readonly startTimeMs?: number;
  readonly endTimeMs?: number;
  readonly limit: number;
}

/** One kline stream as the history queries need it. */
export interface HistoryStream {
  /** Its name, `btcusdt@kline_1m`. */
  readonly name: string;
  readonly id: KlineStreamId;
  readonly series: CandleSeriesId;
  readonly book: CandleBook;
}

/**
 * Range queries over a stream's closed candles at any depth: what the candle book holds is
 * answered from memory; what lies before it comes from the exchange through the {@link HistoryPager}.
 * A range that fits into the book's free room is fetched whole and kept there (so a month of 1m
 * candles, asked for once, is then held); a larger one is served from pages.
 */
export class CandleHistory {
  constructor(private readonly options: CandleHistoryOptions) {}

  /**
   * Closed candles with open time in [startTimeMs, endTimeMs], oldest first, at most `limit`: the
   * first `limit` from `startTimeMs`, or without it the last `limit` up to `endTimeMs` (Binance's
   * `klines` semantics). Throws {@link HistoryUnavailable} when the exchange fails.
   */
  async range(stream: HistoryStream, query: HistoryQuery): Promise<Candle[]> {
    const { book } = stream;
    const { startTimeMs: start, endTimeMs: end, limit } = query;
    const covered = book.coveredFromMs;
    if (start !== undefined) {
      if (covered === null || firstOpenFrom(stream.series.interval, start) >= covered)
        return [...book.range(start, end, limit)];
      if (await this.extend(stream, start)) return [...book.range(start, end, limit)];
      const lastOlder = Math.min(end ?? Number.POSITIVE_INFINITY, covered - 1);
      const older = await this.forward(stream, start, lastOlder, covered, limit);
      if (older.length >= limit || (end !== undefined && end < covered)) return older.slice(0, limit);
      return [...older, ...book.range(covered, end, limit - older.length)];
    }
    const held = [...book.range(undefined, end, limit)];
    if (held.length >= limit || covered === null) return held;
    const before = end === undefined ? covered : Math.min(end + 1, covered);
    const older = await this.backward(stream, before, covered, limit - held.length);
    return [...older, ...held];
  }

  /**
   * Makes the closed candles after `sinceOpenTimeMs` available for a replay: those before the
   * book's history are fetched, and kept in the book when they fit (then the result is empty),
   * or returned, oldest first. Throws {@link ReplayOutOfRange} beyond `maxReplayCandles`, and
   * {@link HistoryUnavailable} when the exchange fails.
   */
  async olderThanHeld(stream: HistoryStream, sinceOpenTimeMs: number): Promise<Candle[]> {
    const { book, series } = stream;
    const covered = book.coveredFromMs;
    const from = firstOpenFrom(series.interval, sinceOpenTimeMs + 1);
    if (covered === null || from >= covered) return [];
    const count = candleIndexOf(series.interval, covered) - candleIndexOf(series.interval, from);
    if (count > this.options.maxReplayCandles) {
      throw new ReplayOutOfRange(
        `since_open_time_ms ${sinceOpenTimeMs} is ${count} candles before the history held for ${stream.name} (from ${covered}); at most ${this.options.maxReplayCandles} are replayed from the exchange: page older candles with GetCandles`,
      );
    }
    if (await this.extend(stream, from)) return [];
    return this.forward(stream, from, covered - 1, covered, Number.POSITIVE_INFINITY);
  }

  /** Fetches [fromMs, start of the held history) and keeps it in the book, if it fits. */
  private async extend(stream: HistoryStream, fromMs: number): Promise<boolean> {
    const { book, series } = stream;
    const covered = book.coveredFromMs;
    if (covered === null) return false;
    const count = candleIndexOf(series.interval, covered) - candleIndexOf(series.interval, fromMs);
    if (count > book.room) return false;
    const rows = await this.forward(stream, fromMs, covered - 1, covered, Number.POSITIVE_INFINITY);
    book.prepend(rows, fromMs, intervalOpenTimeMs(series.interval, covered - 1));
    return (book.coveredFromMs ?? Number.POSITIVE_INFINITY) <= fromMs;
  }

  /** The first `limit` closed candles in [fromMs, toMs] before `beforeMs`, page by page. */
  private async forward(
    stream: HistoryStream,
    fromMs: number,
    toMs: number,
    beforeMs: number,
    limit: number,
  ): Promise<Candle[]> {
    const { interval } = stream.series;
    const lastMs = Math.min(toMs, beforeMs - 1);
    const out: Candle[] = [];
    let cursor = fromMs;
    while (out.length < limit && cursor <= lastMs) {
      const pageEnd = pageEndMs(interval, cursor);
      const rows = await this.fetch(() =>
        this.options.pager.range(stream, cursor, Math.min(pageEnd, lastMs), beforeMs, this.options.signal),
      );
      if (rows.length > 0) {
        for (const c of rows) if (out.length < limit) out.push(c);
        cursor = pageEnd + 1;
        continue;
      }
      // An empty page (before the market's first candle, or an outage): ask where data resumes
      // instead of walking empty pages one by one.
      const next = await this.fetch(() =>
        this.options.pager.firstFrom(stream, pageEnd + 1, lastMs, this.options.signal),
      );
      if (next === null) break;
      cursor = next;
    }
    return out;
  }

  /** The last `need` closed candles before `beforeMs` (exclusive), page by page backwards. */
  private async backward(
    stream: HistoryStream,
    beforeMs: number,
    coveredMs: number,
    need: number,
  ): Promise<Candle[]> {
    const { interval } = stream.series;
    const chunks: Candle[][] = [];
    let got = 0;
    let before = beforeMs;
    while (got < need && before > 0) {
      const pageStart = pageStartMs(interval, before - 1);
      const rows = await this.fetch(() =>
        this.options.pager.range(stream, pageStart, before - 1, coveredMs, this.options.signal),
      );
      // A page with nothing in it: before the market's first candle (or a long outage). Stop.
      if (rows.length === 0) break;
      const take = rows.slice(Math.max(0, rows.length - (need - got)));
      chunks.unshift(take);
      got += take.length;
      before = pageStart;
    }
    return chunks.flat();
  }

  private async fetch<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (this.options.signal.aborted) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new HistoryUnavailable(`the exchange did not serve the history asked for: ${message}`, {
        cause: err,
      });
    }
  }
}

/** Open time of the first candle opening at or after `timeMs`. */
function firstOpenFrom(interval: Interval, timeMs: number): number {
  const open = intervalOpenTimeMs(interval, timeMs);
  return open < timeMs ? nextOpenTimeMs(interval, open) : open;
}

function pageStartMs(interval: Interval, openTimeMs: number): number {
  return openTimeOfCandleIndex(
    interval,
    Math.floor(candleIndexOf(interval, openTimeMs) / PAGE_CANDLES) * PAGE_CANDLES,
  );
}

function pageEndMs(interval: Interval, openTimeMs: number): number {
  return (
    openTimeOfCandleIndex(
      interval,
      (Math.floor(candleIndexOf(interval, openTimeMs) / PAGE_CANDLES) + 1) * PAGE_CANDLES,
    ) - 1
  );
}
