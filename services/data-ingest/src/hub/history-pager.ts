import {
  type Candle,
  CandleColumns,
  candleIndexOf,
  type Interval,
  openTimeOfCandleIndex,
} from '@visualgo/market';
import type { Logger } from '@visualgo/platform';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HistoryStream } from './candle-history.js';
import type { HistorySource } from './history-source.js';

/** What the pager needs of a stream. */
type PagedStream = Pick<HistoryStream, 'name' | 'id' | 'series'>;

/** Candles per page: one REST request on Binance. */
export const PAGE_CANDLES = 1_000;

export interface HistoryPagerOptions {
  readonly source: HistorySource;
  /** Candles kept in the page cache across every stream (about 100 bytes each). */
  readonly cacheCandles: number;
  readonly logger: Logger;
  readonly metrics: Registry;
}

interface Page {
  readonly key: string;
  readonly candles: CandleColumns;
}

/**
 * Closed candles older than what the hub holds, from the exchange's REST API, a page at a time.
 *
 * Pages are aligned on the interval's candle grid (page k holds the candles with index
 * k·1000 .. k·1000 + 999), so requests from different clients for overlapping ranges ask for the
 * same pages: a page being fetched is shared by everyone who needs it, and fetched pages are kept
 * in a least-recently-used cache bounded by `cacheCandles`, compactly ({@link CandleColumns}). A
 * page cut short by `beforeMs` (the start of what the hub holds) is fetched but not cached.
 */
export class HistoryPager {
  private readonly cache = new Map<string, Page>();
  private readonly inFlight = new Map<string, Promise<CandleColumns>>();
  private cachedCandles = 0;
  private readonly log: Logger;
  private readonly m: { requests: Counter<'outcome'> };

  constructor(private readonly options: HistoryPagerOptions) {
    this.log = options.logger.child({ component: 'history-pager' });
    const r = options.metrics;
    this.m = {
      requests: new Counter({
        name: 'ingest_history_pages_total',
        help: 'History pages asked for beyond the held candles, by outcome: cached, shared (already being fetched), fetched, failed',
        labelNames: ['outcome'],
        registers: [r],
      }),
    };
    const pager = this;
    new Gauge({
      name: 'ingest_history_cache_candles',
      help: 'Candles in the history page cache',
      registers: [r],
      collect() {
        this.set(pager.cachedCandles);
      },
    });
  }

  /**
   * Every closed candle with open time in [fromMs, toMs] and before `beforeMs`, oldest first,
   * fetched page by page. Throws what the source throws.
   */
  async range(
    stream: PagedStream,
    fromMs: number,
    toMs: number,
    beforeMs: number,
    signal: AbortSignal,
  ): Promise<Candle[]> {
    const { interval } = stream.series;
    const lastMs = Math.min(toMs, beforeMs - 1);
    if (lastMs < fromMs) return [];
    const firstPage = pageOf(interval, fromMs);
    const lastPage = pageOf(interval, lastMs);
    const out: Candle[] = [];
    for (let p = firstPage; p <= lastPage; p++) {
      const page = await this.page(stream, p, beforeMs, signal);
      const lo = page.lowerBound(fromMs);
      const hi = page.lowerBound(lastMs + 1);
      for (let k = lo; k < hi; k++) out.push(page.get(k));
    }
    return out;
  }

  /**
   * Open time of the first closed candle in [fromMs, toMs], or null when there is none: one
   * single-row request, not cached. Finds where history resumes after an empty stretch.
   */
  async firstFrom(
    stream: PagedStream,
    fromMs: number,
    toMs: number,
    signal: AbortSignal,
  ): Promise<number | null> {
    if (toMs < fromMs) return null;
    const rows = await this.options.source.closedBetween(stream.id, fromMs, toMs, signal, 1);
    this.m.requests.inc({ outcome: 'fetched' });
    return rows[0]?.openTimeMs ?? null;
  }

  private async page(
    stream: PagedStream,
    page: number,
    beforeMs: number,
    signal: AbortSignal,
  ): Promise<CandleColumns> {
    const { series } = stream;
    const { interval } = series;
    const startMs = openTimeOfCandleIndex(interval, page * PAGE_CANDLES);
    const fullEndMs = openTimeOfCandleIndex(interval, (page + 1) * PAGE_CANDLES) - 1;
    const endMs = Math.min(fullEndMs, beforeMs - 1);
    const complete = endMs === fullEndMs;
    const key = `${stream.name}:${page}:${complete ? 'full' : endMs}`;
    const cached = this.cache.get(key);
    if (cached) {
      // Most recently used last.
      this.cache.delete(key);
      this.cache.set(key, cached);
      this.m.requests.inc({ outcome: 'cached' });
      return cached.candles;
    }
    const shared = this.inFlight.get(key);
    if (shared) {
      this.m.requests.inc({ outcome: 'shared' });
      return shared;
    }
    const fetch = (async () => {
      const rows = await this.options.source.closedBetween(stream.id, startMs, endMs, signal);
      const columns = new CandleColumns(series, Math.max(1, rows.length));
      for (const candle of rows) {
        const newest = columns.newestOpenTimeMs;
        if (newest === null || candle.openTimeMs > newest) columns.push(candle);
      }
      return columns;
    })();
    this.inFlight.set(key, fetch);
    try {
      const columns = await fetch;
      this.m.requests.inc({ outcome: 'fetched' });
      if (complete) this.remember({ key, candles: columns });
      return columns;
    } catch (err) {
      this.m.requests.inc({ outcome: 'failed' });
      this.log.warn({ err, stream: stream.name, startMs, endMs }, 'history page request failed');
      throw err;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private remember(page: Page): void {
    if (page.candles.size > this.options.cacheCandles) return;
    this.cache.set(page.key, page);
    this.cachedCandles += page.candles.size;
    for (const [key, old] of this.cache) {
      if (this.cachedCandles <= this.options.cacheCandles) break;
      this.cache.delete(key);
      this.cachedCandles -= old.candles.size;
    }
  }
}

function pageOf(interval: Interval, openTimeMs: number): number {
  return Math.floor(candleIndexOf(interval, openTimeMs) / PAGE_CANDLES);
}
