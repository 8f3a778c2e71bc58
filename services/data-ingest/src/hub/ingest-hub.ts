import {
  type Candle,
  CandleBook,
  type CandleGap,
  type Interval,
  intervalNominalMs,
  isInterval,
  type Trade,
  TradeBook,
  type TradeGap,
} from '@visualgo/market';
import { Backoff, type Logger, sleep } from '@visualgo/platform';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CandleHistory, type HistoryStream } from './candle-history.js';
import { HistoryPager } from './history-pager.js';
import type { HistorySource } from './history-source.js';
import type {
  CandleQuery,
  FeedStatusEvent,
  FeedStatusKind,
  MarketHubView,
  StreamDescriptor,
} from './market-hub.js';
import { PublishedEvent } from './published-event.js';

export interface IngestHubOptions {
  readonly exchange: 'binance' | 'binance-sim';
  readonly streams: readonly StreamDescriptor[];
  /** Closed candles loaded per stream at start. */
  readonly historyCandles: number;
  /** Days of closed candles held per stream once asked for; older ones are paged from `history`. Default 0. */
  readonly holdDays?: number;
  /** Upper bound on the candles held per stream. Default 50 000. */
  readonly holdMaxCandles?: number;
  /** Candles of older history kept in the page cache, across streams. Default 200 000. */
  readonly cacheCandles?: number;
  /** Candles a resume may replay from beyond the held history. Default 100 000. */
  readonly maxReplayCandles?: number;
  readonly history: HistorySource;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** Attempts per gap before it is declared unfillable. */
  readonly fillAttempts?: number;
  /** Trade gaps larger than this are reported unfilled without fetching them. Default 10 000. */
  readonly maxTradeGapFill?: number;
  readonly fillBackoff?: { initialMs: number; maxMs: number };
  readonly now?: () => number;
}

interface KlineState extends HistoryStream {
  filling: boolean;
  lastEventTimeMs: number;
}

interface TradeState {
  readonly descriptor: StreamDescriptor;
  readonly book: TradeBook;
  filling: boolean;
  lastEventTimeMs: number;
}

type Fetched<T> =
  | { readonly value: T; readonly failure: null }
  | { readonly value: null; readonly failure: string };

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 1000;

/** Candles a stream's book holds: `holdDays` of them, bounded, and at least the start-up backfill. */
function holdCapacity(options: IngestHubOptions, interval: Interval): number {
  const days = options.holdDays ?? 0;
  const wanted = Math.ceil((days * 86_400_000) / intervalNominalMs(interval));
  return Math.max(options.historyCandles, Math.min(options.holdMaxCandles ?? 50_000, wanted));
}

/**
 * The ingest hub: takes live events from the exchange connector, keeps a candle book per kline
 * stream (exactly-once, in-order closed candles) and a trade book per trade stream (every trade
 * id once, in order), fills gaps in either from REST, and publishes to the edges.
 */
export class IngestHub implements MarketHubView {
  readonly exchange: 'binance' | 'binance-sim';
  private readonly klines = new Map<string, KlineState>();
  private readonly trades = new Map<string, TradeState>();
  private readonly listeners = new Set<(event: PublishedEvent) => void>();
  private readonly statusListeners = new Set<(event: FeedStatusEvent) => void>();
  /** Binance payloads of candles and trades, for the Binance-format WebSocket endpoints. */
  private readonly payloads = new WeakMap<Candle | Trade, unknown>();
  private readonly abort = new AbortController();
  private readonly fills = new Set<Promise<void>>();
  private readonly candleHistory: CandleHistory;
  private connected = false;
  private historyLoaded = false;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly m: {
    events: Counter<'stream' | 'kind'>;
    dropped: Counter<'stream' | 'reason'>;
    gaps: Counter<'stream' | 'outcome'>;
    lag: Histogram<'kind'>;
    connected: Gauge;
  };

  constructor(private readonly options: IngestHubOptions) {
    this.exchange = options.exchange;
    this.now = options.now ?? Date.now;
    this.log = options.logger.child({ component: 'hub' });
    for (const d of options.streams) {
      if (d.kind === 'kline') {
        if (!d.interval || !isInterval(d.interval))
          throw new RangeError(`stream ${d.stream} has no valid interval`);
        const interval: Interval = d.interval;
        const series = { exchange: options.exchange, symbol: d.symbol, interval };
        this.klines.set(d.stream, {
          descriptor: d,
          series,
          book: new CandleBook(series, holdCapacity(options, interval)),
          filling: false,
          lastEventTimeMs: 0,
        });
      } else {
        this.trades.set(d.stream, {
          descriptor: d,
          book: new TradeBook(),
          filling: false,
          lastEventTimeMs: 0,
        });
      }
    }
    const r = options.metrics;
    this.candleHistory = new CandleHistory({
      pager: new HistoryPager({
        source: options.history,
        cacheCandles: options.cacheCandles ?? 200_000,
        logger: this.log,
        metrics: r,
      }),
      maxReplayCandles: options.maxReplayCandles ?? 100_000,
      signal: this.abort.signal,
    });
    const hub = this;
    new Gauge({
      name: 'ingest_history_held_candles',
      help: 'Closed candles held in memory, over every stream (older ones are paged from the exchange)',
      registers: [r],
      collect() {
        this.set(hub.heldCandles().candles);
      },
    });
    new Gauge({
      name: 'ingest_history_held_bytes',
      help: 'Bytes allocated for the closed candles held in memory (about 100 a candle)',
      registers: [r],
      collect() {
        this.set(hub.heldCandles().bytes);
      },
    });
    this.m = {
      events: new Counter({
        name: 'ingest_events_published_total',
        help: 'Events published to clients, by stream and kind (candle_open, candle_closed, trade)',
        labelNames: ['stream', 'kind'],
        registers: [r],
      }),
      dropped: new Counter({
        name: 'ingest_events_deduplicated_total',
        help: 'Upstream events not published: duplicates and stale updates (overlapping connections, backfill overlap)',
        labelNames: ['stream', 'reason'],
        registers: [r],
      }),
      gaps: new Counter({
        name: 'ingest_gaps_total',
        help: 'Candle gaps by outcome: detected, filled (from REST), unfilled (reported, skipped)',
        labelNames: ['stream', 'outcome'],
        registers: [r],
      }),
      lag: new Histogram({
        name: 'ingest_event_lag_seconds',
        help: 'Local receive time minus exchange event time of live events',
        labelNames: ['kind'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [r],
      }),
      connected: new Gauge({
        name: 'ingest_upstream_connected',
        help: '1 while the exchange stream connection is up',
        registers: [r],
      }),
    };
  }

  streams(): readonly StreamDescriptor[] {
    return this.options.streams;
  }

  hasStream(stream: string): boolean {
    return this.klines.has(stream) || this.trades.has(stream);
  }

  /** Subscribers to published events. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  subscribe(listener: (event: PublishedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: (event: FeedStatusEvent) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  async candles(stream: string, query: CandleQuery): Promise<readonly Candle[]> {
    const state = this.klines.get(stream);
    if (!state) return [];
    const limit = Math.min(MAX_LIMIT, query.limit && query.limit > 0 ? query.limit : DEFAULT_LIMIT);
    if (query.heldOnly) return state.book.range(query.startTimeMs, query.endTimeMs, limit);
    return this.candleHistory.range(state, {
      ...(query.startTimeMs === undefined ? {} : { startTimeMs: query.startTimeMs }),
      ...(query.endTimeMs === undefined ? {} : { endTimeMs: query.endTimeMs }),
      limit,
    });
  }

  async olderThanHeld(stream: string, sinceOpenTimeMs: number): Promise<readonly Candle[]> {
    const state = this.klines.get(stream);
    return state ? this.candleHistory.olderThanHeld(state, sinceOpenTimeMs) : [];
  }

  closedSince(stream: string, sinceOpenTimeMs: number): readonly Candle[] {
    return this.klines.get(stream)?.book.closedSince(sinceOpenTimeMs) ?? [];
  }

  coveredFromMs(stream: string): number | null {
    return this.klines.get(stream)?.book.coveredFromMs ?? null;
  }

  /** Closed candles held in memory, and the bytes allocated for them, over every stream. */
  heldCandles(): { readonly candles: number; readonly bytes: number } {
    let candles = 0;
    let bytes = 0;
    for (const state of this.klines.values()) {
      candles += state.book.size;
      bytes += state.book.byteLength;
    }
    return { candles, bytes };
  }

  openCandle(stream: string): Candle | undefined {
    return this.klines.get(stream)?.book.openCandle;
  }

  /** The Binance payload a candle arrived with (or was rebuilt with, for backfill). */
  payloadOf(candle: Candle): unknown {
    return this.payloads.get(candle);
  }

  isReady(): boolean {
    return this.connected && this.historyLoaded;
  }

  isUpstreamConnected(): boolean {
    return this.connected;
  }

  isHistoryLoaded(): boolean {
    return this.historyLoaded;
  }

  /**
   * Loads the last `historyCandles` closed candles of every kline stream (a few streams at a
   * time, to stay light on request weight). A stream whose backfill fails starts from its
   * first live candle instead, and the failure is reported as a feed status.
   */
  async loadHistory(concurrency = 2): Promise<void> {
    const queue = [...this.klines.values()];
    const worker = async () => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        const state = s;
        let backfill: readonly Candle[] = [];
        try {
          const rows = await this.options.history.latestClosed(
            state.descriptor,
            this.options.historyCandles,
            this.abort.signal,
          );
          // History is never published live: its exchange payloads are not kept.
          backfill = rows.map((r) => r.candle);
        } catch (err) {
          if (this.abort.signal.aborted) return;
          this.log.error({ err, stream: state.descriptor.stream }, 'history backfill failed');
          this.emitStatus('gap-unfilled', state.descriptor.stream, {
            detail: 'initial history backfill failed',
          });
        }
        this.handle(state, state.book.anchor(backfill));
        this.log.info({ stream: state.descriptor.stream, candles: backfill.length }, 'history loaded');
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    this.historyLoaded = true;
  }

  ingestCandle(stream: string, candle: Candle, payload: unknown): void {
    const state = this.klines.get(stream);
    if (!state) return;
    this.payloads.set(candle, payload);
    state.lastEventTimeMs = Math.max(state.lastEventTimeMs, candle.eventTimeMs);
    this.m.lag.observe({ kind: 'candle' }, Math.max(0, candle.receivedTimeMs - candle.eventTimeMs) / 1000);
    const result = state.book.offer(candle);
    if (result.dropped === 'duplicate' || result.dropped === 'stale') {
      this.m.dropped.inc({ stream, reason: result.dropped });
    }
    this.handle(state, result);
  }

  ingestTrade(stream: string, trade: Trade, payload: unknown): void {
    const state = this.trades.get(stream);
    if (!state) return;
    state.lastEventTimeMs = Math.max(state.lastEventTimeMs, trade.eventTimeMs);
    this.m.lag.observe({ kind: 'trade' }, Math.max(0, trade.receivedTimeMs - trade.eventTimeMs) / 1000);
    const result = state.book.offer(trade);
    if (result.dropped === 'duplicate') {
      this.m.dropped.inc({ stream, reason: 'duplicate' });
      return;
    }
    this.payloads.set(trade, payload);
    for (const t of result.publish) this.publishTrade(stream, t);
    if (result.gap) this.startTradeFill(state, result.gap);
  }

  setConnected(connected: boolean, detail?: string): void {
    if (connected === this.connected) return;
    this.connected = connected;
    this.m.connected.set(connected ? 1 : 0);
    this.emitStatus(connected ? 'connected' : 'disconnected', '', detail === undefined ? {} : { detail });
  }

  /** Stops gap filling; waits for fills in flight to notice. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('hub stopped'));
    await Promise.allSettled([...this.fills]);
  }

  private handle(state: KlineState, result: { publish: readonly Candle[]; gap: CandleGap | null }): void {
    for (const candle of result.publish) this.publishCandle(state.descriptor.stream, candle);
    if (result.gap) this.startFill(state, result.gap);
  }

  private publishCandle(stream: string, candle: Candle): void {
    this.m.events.inc({ stream, kind: candle.closed ? 'candle_closed' : 'candle_open' });
    this.publish(new PublishedEvent(stream, { type: 'candle', candle }, this.payloads.get(candle)));
  }

  private publishTrade(stream: string, trade: Trade): void {
    this.m.events.inc({ stream, kind: 'trade' });
    this.publish(new PublishedEvent(stream, { type: 'trade', trade }, this.payloads.get(trade)));
  }

  private publish(event: PublishedEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err, stream: event.stream }, 'subscriber failed');
      }
    }
  }

  private startFill(state: KlineState, gap: CandleGap): void {
    if (state.filling) return;
    state.filling = true;
    const stream = state.descriptor.stream;
    this.m.gaps.inc({ stream, outcome: 'detected' });
    this.emitStatus('gap-detected', stream, {
      fromOpenTimeMs: gap.fromOpenTimeMs,
      toOpenTimeMs: gap.toOpenTimeMs,
    });
    this.log.warn({ stream, ...gap }, 'candle gap detected, filling from REST');
    const run = this.fillLoop(state, gap).finally(() => {
      state.filling = false;
      this.fills.delete(run);
    });
    this.fills.add(run);
  }

  private async fillLoop(state: KlineState, first: CandleGap): Promise<void> {
    const stream = state.descriptor.stream;
    const attempts = this.options.fillAttempts ?? 5;
    const backoff = this.fillBackoff();
    let gap: CandleGap | null = first;
    while (gap && !this.abort.signal.aborted) {
      const range: CandleGap = gap;
      const got = await this.fetchWithRetry(stream, range, backoff, async () =>
        (
          await this.options.history.closedBetween(
            state.descriptor,
            range.fromOpenTimeMs,
            range.toOpenTimeMs,
            this.abort.signal,
          )
        ).map((r) => {
          if (!this.payloads.has(r.candle)) this.payloads.set(r.candle, r.payload);
          return r.candle;
        }),
      );
      if (got === 'aborted') return;
      const fetched = got.value ?? [];
      const failure = got.failure;
      const result = state.book.fill(fetched, gap);
      // Holes first, so that a consumer knows of one before the candles that follow it.
      for (const hole of result.unfilled) {
        this.m.gaps.inc({ stream, outcome: 'unfilled' });
        this.log.error({ stream, ...hole }, 'candle gap could not be filled');
        this.emitStatus('gap-unfilled', stream, {
          fromOpenTimeMs: hole.fromOpenTimeMs,
          toOpenTimeMs: hole.toOpenTimeMs,
          lost: failure !== null,
          detail:
            failure === null
              ? 'the exchange returned no candles for this range'
              : `history requests failed ${attempts} times: ${failure}`,
        });
      }
      for (const candle of result.publish) this.publishCandle(stream, candle);
      if (result.unfilled.length === 0) {
        this.m.gaps.inc({ stream, outcome: 'filled' });
        this.emitStatus('gap-filled', stream, {
          fromOpenTimeMs: gap.fromOpenTimeMs,
          toOpenTimeMs: gap.toOpenTimeMs,
        });
      }
      gap = result.gap;
      if (gap) {
        this.m.gaps.inc({ stream, outcome: 'detected' });
        this.emitStatus('gap-detected', stream, {
          fromOpenTimeMs: gap.fromOpenTimeMs,
          toOpenTimeMs: gap.toOpenTimeMs,
        });
      }
    }
  }

  private startTradeFill(state: TradeState, gap: TradeGap): void {
    if (state.filling) return;
    state.filling = true;
    const run = this.tradeFillLoop(state, gap).finally(() => {
      state.filling = false;
      this.fills.delete(run);
    });
    this.fills.add(run);
  }

  private async tradeFillLoop(state: TradeState, first: TradeGap): Promise<void> {
    const stream = state.descriptor.stream;
    const attempts = this.options.fillAttempts ?? 5;
    const maxFill = this.options.maxTradeGapFill ?? 10_000;
    const backoff = this.fillBackoff();
    let gap: TradeGap | null = first;
    while (gap && !this.abort.signal.aborted) {
      const range: TradeGap = gap;
      this.m.gaps.inc({ stream, outcome: 'detected' });
      this.emitStatus('gap-detected', stream, { fromTradeId: range.fromId, toTradeId: range.toId });
      this.log.warn({ stream, ...range }, 'trade gap detected, filling from REST');
      let fetched: readonly Trade[] = [];
      let failure: string | null = null;
      if (range.toId - range.fromId + 1 > maxFill) {
        failure = `${range.toId - range.fromId + 1} trades missing, more than the ${maxFill} filled at most`;
      } else {
        const got = await this.fetchWithRetry(stream, range, backoff, async () =>
          (
            await this.options.history.tradesBetween(
              state.descriptor,
              range.fromId,
              range.toId,
              this.abort.signal,
            )
          ).map((r) => {
            if (!this.payloads.has(r.trade)) this.payloads.set(r.trade, r.payload);
            return r.trade;
          }),
        );
        if (got === 'aborted') return;
        fetched = got.value ?? [];
        failure = got.failure === null ? null : `history requests failed ${attempts} times: ${got.failure}`;
      }
      const result = state.book.fill(fetched, range);
      for (const t of result.publish) this.publishTrade(stream, t);
      if (result.unfilled.length === 0) {
        this.m.gaps.inc({ stream, outcome: 'filled' });
        this.emitStatus('gap-filled', stream, { fromTradeId: range.fromId, toTradeId: range.toId });
      }
      for (const hole of result.unfilled) {
        this.m.gaps.inc({ stream, outcome: 'unfilled' });
        this.log.error({ stream, ...hole }, 'trade gap could not be filled');
        this.emitStatus('gap-unfilled', stream, {
          fromTradeId: hole.fromId,
          toTradeId: hole.toId,
          lost: failure !== null,
          detail: failure ?? 'the exchange returned no trades for these ids',
        });
      }
      gap = result.gap;
    }
  }

  private fillBackoff(): Backoff {
    return new Backoff(this.options.fillBackoff ?? { initialMs: 500, maxMs: 10_000 });
  }

  /** Runs a history request up to `fillAttempts` times with backoff; 'aborted' once the hub stops. */
  private async fetchWithRetry<T>(
    stream: string,
    range: object,
    backoff: Backoff,
    fetch: () => Promise<T>,
  ): Promise<Fetched<T> | 'aborted'> {
    const attempts = this.options.fillAttempts ?? 5;
    let failure = 'no attempt made';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        return { value: await fetch(), failure: null };
      } catch (err) {
        if (this.abort.signal.aborted) return 'aborted';
        failure = err instanceof Error ? err.message : String(err);
        this.log.warn({ err, stream, attempt, ...range }, 'gap fill request failed');
        if (attempt < attempts) {
          try {
            await sleep(backoff.next(), this.abort.signal);
          } catch {
            return 'aborted';
          }
        }
      }
    }
    return { value: null, failure };
  }

  private emitStatus(
    kind: FeedStatusKind,
    stream: string,
    extra: {
      fromOpenTimeMs?: number;
      toOpenTimeMs?: number;
      fromTradeId?: number;
      toTradeId?: number;
      detail?: string;
      lost?: boolean;
    },
  ): void {
    const event: FeedStatusEvent = { kind, stream, timeMs: this.now(), ...extra };
    for (const listener of this.statusListeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err }, 'status subscriber failed');
      }
    }
  }
}
