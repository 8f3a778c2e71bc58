import { HistoryUnavailable, type ReplaySource } from '@visualgo/bus';
import {
  type Candle,
  CandleBook,
  type ExchangeId,
  formatStreamName,
  type Interval,
  intervalNominalMs,
  type StreamId,
} from '@visualgo/market';
import type { Logger } from '@visualgo/platform';
import { Gauge, type Registry } from 'prom-client';
import { CandleHistory, type HistoryStream } from './candle-history.js';
import { HistoryPager } from './history-pager.js';
import type { HistorySource } from './history-source.js';

export interface CandleQuery {
  readonly startTimeMs?: number;
  readonly endTimeMs?: number;
  /** Default 500, max 1000. */
  readonly limit?: number;
  /** Only what is held in memory: never ask the exchange. */
  readonly heldOnly?: boolean;
}

export interface CandleStoreOptions {
  readonly exchange: ExchangeId;
  readonly streams: readonly StreamId[];
  /** Closed candles loaded per stream at start (the least a book holds). */
  readonly historyCandles: number;
  /** Days of closed candles held per stream once asked for; older ones are paged from `history`. Default 0. */
  readonly holdDays?: number;
  /** Upper bound on the candles held per stream. Default 50 000. */
  readonly holdMaxCandles?: number;
  /** Candles of older history kept in the page cache, across streams. Default 200 000. */
  readonly cacheCandles?: number;
  /** Candles a replay may reach beyond the held history. Default 100 000. */
  readonly maxReplayCandles?: number;
  readonly history: HistorySource;
  readonly logger: Logger;
  readonly metrics: Registry;
}

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 1000;
/** Fetches a replay makes to catch up with a book that keeps evicting, before it gives up. */
const MAX_REPLAY_ROUNDS = 4;

/** Candles a stream's book holds: `holdDays` of them, bounded, and at least the start-up backfill. */
function holdCapacity(options: CandleStoreOptions, interval: Interval): number {
  const days = options.holdDays ?? 0;
  const wanted = Math.ceil((days * 86_400_000) / intervalNominalMs(interval));
  return Math.max(options.historyCandles, Math.min(options.holdMaxCandles ?? 50_000, wanted));
}

/**
 * The closed candles of every kline stream data-ingest serves: a {@link CandleBook} per stream
 * (exactly-once, in-order release; the recent history held compactly) and, before what the books
 * hold, the exchange's REST API paged through the {@link HistoryPager}. It answers range queries
 * (`GET /api/v3/klines`, GetCandles) and is the record the bus replays from.
 */
export class CandleStore implements ReplaySource {
  private readonly klines = new Map<string, HistoryStream>();
  private readonly history: CandleHistory;
  private readonly abort = new AbortController();

  constructor(options: CandleStoreOptions) {
    for (const id of options.streams) {
      if (id.kind !== 'kline') continue;
      const series = { exchange: options.exchange, symbol: id.symbol, interval: id.interval };
      const name = formatStreamName(id);
      this.klines.set(name, {
        name,
        id,
        series,
        book: new CandleBook(series, holdCapacity(options, id.interval)),
      });
    }
    const r = options.metrics;
    this.history = new CandleHistory({
      pager: new HistoryPager({
        source: options.history,
        cacheCandles: options.cacheCandles ?? 200_000,
        logger: options.logger.child({ component: 'candle-store' }),
        metrics: r,
      }),
      maxReplayCandles: options.maxReplayCandles ?? 100_000,
      signal: this.abort.signal,
    });
    const store = this;
    new Gauge({
      name: 'ingest_history_held_candles',
      help: 'Closed candles held in memory, over every stream (older ones are paged from the exchange)',
      registers: [r],
      collect() {
        this.set(store.heldCandles().candles);
      },
    });
    new Gauge({
      name: 'ingest_history_held_bytes',
      help: 'Bytes allocated for the closed candles held in memory (about 100 a candle)',
      registers: [r],
      collect() {
        this.set(store.heldCandles().bytes);
      },
    });
  }

  /** The kline streams, in declaration order. */
  streams(): Iterable<HistoryStream> {
    return this.klines.values();
  }

  /** A kline stream's book and identity; undefined for any other name. */
  stream(name: string): HistoryStream | undefined {
    return this.klines.get(name);
  }

  /**
   * Closed candles, oldest first, within the bounds (open time, inclusive), at any depth: what is
   * not held comes from the exchange. Rejects with `HistoryUnavailable` when the exchange fails.
   */
  async candles(stream: string, query: CandleQuery): Promise<readonly Candle[]> {
    const state = this.klines.get(stream);
    if (!state) return [];
    const limit = Math.min(MAX_LIMIT, query.limit && query.limit > 0 ? query.limit : DEFAULT_LIMIT);
    if (query.heldOnly) return state.book.range(query.startTimeMs, query.endTimeMs, limit);
    return this.history.range(state, {
      ...(query.startTimeMs === undefined ? {} : { startTimeMs: query.startTimeMs }),
      ...(query.endTimeMs === undefined ? {} : { endTimeMs: query.endTimeMs }),
      limit,
    });
  }

  /** The current open candle of a stream, if any. */
  openCandle(stream: string): Candle | undefined {
    return this.klines.get(stream)?.book.openCandle;
  }

  /**
   * The replay of a kline stream after `sinceOpenTimeMs`: what is older than the held history comes
   * from the exchange (kept in the book when it fits), the rest from the book, read last so that it
   * runs through the newest candle released. A full book evicts its oldest candles as new ones close;
   * when it moved on while the older part was fetched, the candles it let go meanwhile are fetched
   * too, so that no hole is left between the parts. Rejects with `ReplayOutOfRange` beyond
   * `maxReplayCandles`, and `HistoryUnavailable` while the start-up history is loading, when the
   * exchange fails, or when the book keeps moving on faster than the exchange answers.
   */
  async closedSince(stream: string, sinceOpenTimeMs: number): Promise<readonly Candle[]> {
    const state = this.klines.get(stream);
    if (!state) return [];
    const { book } = state;
    if (!book.isAnchored) throw new HistoryUnavailable('history is still loading; retry shortly');
    const older: Candle[] = [];
    let after = sinceOpenTimeMs;
    for (let round = 0; round < MAX_REPLAY_ROUNDS; round++) {
      const coveredBefore = book.coveredFromMs;
      for (const candle of await this.history.olderThanHeld(state, after)) older.push(candle);
      const covered = book.coveredFromMs;
      const reached =
        covered === null || covered <= after + 1 || (coveredBefore !== null && covered <= coveredBefore);
      if (reached) {
        const held = book.closedSince(sinceOpenTimeMs);
        const first = held[0]?.openTimeMs ?? Number.POSITIVE_INFINITY;
        const out = older.filter((c) => c.openTimeMs < first);
        for (const candle of held) out.push(candle);
        return out;
      }
      // Evicted while fetching: [coveredBefore, covered) is now older than held; fetch it next.
      if (coveredBefore !== null) after = Math.max(after, coveredBefore - 1);
    }
    throw new HistoryUnavailable('history moved on while the replay was prepared; retry');
  }

  /** Closed candles held in memory, and the bytes allocated for them, over every stream. */
  heldCandles(): { readonly candles: number; readonly bytes: number } {
    let candles = 0;
    let bytes = 0;
    for (const { book } of this.klines.values()) {
      candles += book.size;
      bytes += book.byteLength;
    }
    return { candles, bytes };
  }

  /** Stops fetching from the exchange; fetches in flight reject. */
  stop(): void {
    this.abort.abort(new Error('candle store stopped'));
  }
}
