import { HistoryUnavailable } from '@visualgo/bus';
import {
  type KlineHistory,
  type MarketRegistry,
  PRODUCER_TTL_MS,
  type ProducerReport,
} from '@visualgo/bus/nats';
import type { CandleQuery, IngestView } from '@visualgo/data-ingest';
import { type Candle, type ExchangeId, formatStreamName, type StreamId } from '@visualgo/market';
import type { Logger } from '@visualgo/platform';
import { ReadCache } from './read-cache.js';

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 1_000;
/** How long a fetched open candle is served by `openCandle` (it follows each history read). */
const OPEN_CANDLE_FRESH_MS = 2_000;

export interface NatsIngestViewOptions {
  readonly venue: ExchangeId;
  readonly registry: MarketRegistry;
  readonly history: KlineHistory;
  /** Whether the gateway's connection to NATS is up. */
  readonly connected: () => boolean;
  readonly cacheMs: number;
  readonly cacheEntries: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * data-ingest as a gateway sees it, through NATS: the streams from the registry (watched, so new
 * listings appear), history from the JetStream store (with a small read cache), readiness from the
 * reports data-ingest instances write every few seconds (ready when NATS is up and at least one
 * fresh report is ready). What the edges ask of `IngestView`, answered without a hub.
 */
export class NatsIngestView implements IngestView {
  readonly exchange: ExchangeId;
  private readonly ids = new Map<string, StreamId>();
  private readonly reports = new Map<string, { report: ProducerReport; seenMs: number }>();
  private readonly opens = new Map<string, { candle: Candle; atMs: number }>();
  private readonly cache: ReadCache<readonly Candle[]>;
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private listed = false;
  private readonly listeners = new Set<(id: StreamId) => void>();

  constructor(private readonly options: NatsIngestViewOptions) {
    this.exchange = options.venue;
    this.now = options.now ?? Date.now;
    this.cache = new ReadCache(options.cacheMs, options.cacheEntries, this.now);
  }

  /** Loads the stream list and starts watching the registry. */
  async start(): Promise<void> {
    const { registry, venue, logger } = this.options;
    for (const id of await registry.listStreams(venue)) this.add(id);
    this.listed = true;
    void registry
      .watchStreams(venue, (id) => this.add(id), this.abort.signal)
      .catch((err: unknown) => logger.warn({ err }, 'stream registry watch ended'));
    void registry
      .watchProducers(
        venue,
        (key, report) => {
          if (report) this.reports.set(key, { report, seenMs: this.now() });
          else this.reports.delete(key);
        },
        this.abort.signal,
      )
      .catch((err: unknown) => logger.warn({ err }, 'producer report watch ended'));
  }

  stop(): void {
    this.abort.abort();
  }

  /** Whether the registry has been read once. */
  get isListed(): boolean {
    return this.listed;
  }

  /** Called for each stream listed from now on. */
  onStream(listener: (id: StreamId) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  streams(): readonly StreamId[] {
    return [...this.ids.values()];
  }

  hasStream(stream: string): boolean {
    return this.ids.has(stream);
  }

  /**
   * Closed candles within the bounds, oldest first: the first `limit` from `startTimeMs`, or the
   * last `limit` when it is unset; from the store only (`heldOnly` changes nothing: the store is
   * what the cluster holds). The stream's current open candle is fetched alongside, for
   * `openCandle`.
   */
  candles(stream: string, query: CandleQuery): Promise<readonly Candle[]> {
    const id = this.ids.get(stream);
    if (id?.kind !== 'kline') return Promise.resolve([]);
    const limit = Math.min(MAX_LIMIT, query.limit && query.limit > 0 ? query.limit : DEFAULT_LIMIT);
    const key = `${stream}|${query.startTimeMs ?? ''}|${query.endTimeMs ?? ''}|${limit}`;
    return this.cache.read(key, async () => {
      const [candles] = await Promise.all([
        this.options.history.range(stream, {
          ...(query.startTimeMs === undefined ? {} : { startTimeMs: query.startTimeMs }),
          ...(query.endTimeMs === undefined ? {} : { endTimeMs: query.endTimeMs }),
          limit,
          fromEnd: query.startTimeMs === undefined,
        }),
        this.refreshOpen(stream),
      ]);
      return candles;
    });
  }

  async oldestKeptOpenTimeMs(stream: string): Promise<number | null> {
    if (this.ids.get(stream)?.kind !== 'kline') return null;
    return (await this.options.history.oldest(stream))?.candle.openTimeMs ?? null;
  }

  /** The open candle fetched with the last history read of the stream, while fresh. */
  openCandle(stream: string): Candle | undefined {
    const open = this.opens.get(stream);
    return open && this.now() - open.atMs < OPEN_CANDLE_FRESH_MS ? open.candle : undefined;
  }

  isReady(): boolean {
    return this.readiness().ready;
  }

  readiness(): { readonly ready: boolean; readonly reasons: readonly string[] } {
    if (!this.options.connected()) return { ready: false, reasons: ['no NATS connection'] };
    const fresh = this.freshReports();
    if (fresh.length === 0) return { ready: false, reasons: ['no data-ingest instance is reporting'] };
    if (fresh.some((r) => r.ready)) return { ready: true, reasons: [] };
    return {
      ready: false,
      reasons: [...new Set(fresh.flatMap((r) => r.reasons.map((x) => `${r.name}: ${x}`)))],
    };
  }

  stalledStreams(): readonly { readonly stream: string; readonly reason: string }[] {
    const out = new Map<string, string>();
    for (const report of this.freshReports()) for (const s of report.stalled) out.set(s.stream, s.reason);
    return [...out].map(([stream, reason]) => ({ stream, reason }));
  }

  /** Whether the data-ingest instance `name` has reported within `PRODUCER_TTL_MS`. */
  isProducerAlive(name: string): boolean {
    return this.freshReports().some((r) => r.name === name);
  }

  isUpstreamConnected(): boolean {
    return this.freshReports().some((r) => r.upstreamConnected);
  }

  isHistoryLoaded(): boolean {
    return this.freshReports().some((r) => r.historyLoaded);
  }

  private freshReports(): ProducerReport[] {
    const now = this.now();
    return [...this.reports.values()].filter((r) => now - r.seenMs < PRODUCER_TTL_MS).map((r) => r.report);
  }

  private add(id: StreamId): void {
    const name = formatStreamName(id);
    if (this.ids.has(name)) return;
    this.ids.set(name, id);
    for (const listener of this.listeners) listener(id);
  }

  private async refreshOpen(stream: string): Promise<void> {
    try {
      const latest = await this.options.history.latestState(stream);
      if (latest && !latest.candle.closed)
        this.opens.set(stream, { candle: latest.candle, atMs: this.now() });
      else this.opens.delete(stream);
    } catch (err) {
      if (!(err instanceof HistoryUnavailable)) throw err;
    }
  }
}
