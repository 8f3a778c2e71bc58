import {
  type Candle,
  CandleBook,
  type CandleGap,
  type Interval,
  isInterval,
  type Trade,
} from '@visualgo/market';
import { Backoff, type Logger, sleep } from '@visualgo/platform';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
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
  /** Closed candles kept per stream for replay and history requests. */
  readonly historyCandles: number;
  readonly history: HistorySource;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** Attempts per gap before it is declared unfillable. */
  readonly fillAttempts?: number;
  readonly fillBackoff?: { initialMs: number; maxMs: number };
  readonly now?: () => number;
}

interface KlineState {
  readonly descriptor: StreamDescriptor;
  readonly book: CandleBook;
  filling: boolean;
  lastEventTimeMs: number;
}

interface TradeState {
  readonly descriptor: StreamDescriptor;
  lastTradeId: number;
  lastEventTimeMs: number;
}

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 1000;

/**
 * The ingest hub: takes live events from the exchange connector, keeps a candle book per kline
 * stream (exactly-once, in-order closed candles; gaps filled from REST), deduplicates trades
 * across overlapping connections, and publishes to the edges.
 */
export class IngestHub implements MarketHubView {
  readonly exchange: 'binance' | 'binance-sim';
  private readonly klines = new Map<string, KlineState>();
  private readonly trades = new Map<string, TradeState>();
  private readonly listeners = new Set<(event: PublishedEvent) => void>();
  private readonly statusListeners = new Set<(event: FeedStatusEvent) => void>();
  /** Binance payloads of candles, for the Binance-format WebSocket endpoints. */
  private readonly payloads = new WeakMap<Candle, unknown>();
  private readonly abort = new AbortController();
  private readonly fills = new Set<Promise<void>>();
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
        this.klines.set(d.stream, {
          descriptor: d,
          book: new CandleBook(interval, options.historyCandles),
          filling: false,
          lastEventTimeMs: 0,
        });
      } else {
        this.trades.set(d.stream, { descriptor: d, lastTradeId: -1, lastEventTimeMs: 0 });
      }
    }
    const r = options.metrics;
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

  subscribe(listener: (event: PublishedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: (event: FeedStatusEvent) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  getCandles(stream: string, query: CandleQuery): readonly Candle[] {
    const state = this.klines.get(stream);
    if (!state) return [];
    const limit = Math.min(MAX_LIMIT, query.limit && query.limit > 0 ? query.limit : DEFAULT_LIMIT);
    return state.book.range(query.startTimeMs, query.endTimeMs, limit);
  }

  closedSince(stream: string, sinceOpenTimeMs: number): readonly Candle[] {
    return this.klines.get(stream)?.book.closedSince(sinceOpenTimeMs) ?? [];
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
          backfill = rows.map((r) => {
            this.payloads.set(r.candle, r.payload);
            return r.candle;
          });
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
    if (trade.tradeId <= state.lastTradeId) {
      this.m.dropped.inc({ stream, reason: 'duplicate' });
      return;
    }
    state.lastTradeId = trade.tradeId;
    state.lastEventTimeMs = Math.max(state.lastEventTimeMs, trade.eventTimeMs);
    this.m.lag.observe({ kind: 'trade' }, Math.max(0, trade.receivedTimeMs - trade.eventTimeMs) / 1000);
    this.m.events.inc({ stream, kind: 'trade' });
    this.publish(new PublishedEvent(stream, { type: 'trade', trade }, payload));
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
    const backoff = new Backoff(this.options.fillBackoff ?? { initialMs: 500, maxMs: 10_000 });
    let gap: CandleGap | null = first;
    while (gap && !this.abort.signal.aborted) {
      let fetched: readonly Candle[] = [];
      let failure: string | null = null;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          const rows = await this.options.history.closedBetween(
            state.descriptor,
            gap.fromOpenTimeMs,
            gap.toOpenTimeMs,
            this.abort.signal,
          );
          fetched = rows.map((r) => {
            if (!this.payloads.has(r.candle)) this.payloads.set(r.candle, r.payload);
            return r.candle;
          });
          failure = null;
          break;
        } catch (err) {
          if (this.abort.signal.aborted) return;
          failure = err instanceof Error ? err.message : String(err);
          this.log.warn({ err, stream, attempt, ...gap }, 'gap fill request failed');
          if (attempt < attempts) {
            try {
              await sleep(backoff.next(), this.abort.signal);
            } catch {
              return;
            }
          }
        }
      }
      const result = state.book.fill(fetched, gap);
      for (const candle of result.publish) this.publishCandle(stream, candle);
      if (result.unfilled.length === 0) {
        this.m.gaps.inc({ stream, outcome: 'filled' });
        this.emitStatus('gap-filled', stream, {
          fromOpenTimeMs: gap.fromOpenTimeMs,
          toOpenTimeMs: gap.toOpenTimeMs,
        });
      }
      for (const hole of result.unfilled) {
        this.m.gaps.inc({ stream, outcome: 'unfilled' });
        this.log.error({ stream, ...hole }, 'candle gap could not be filled');
        this.emitStatus('gap-unfilled', stream, {
          fromOpenTimeMs: hole.fromOpenTimeMs,
          toOpenTimeMs: hole.toOpenTimeMs,
          detail:
            failure === null
              ? 'the exchange returned no candles for this range'
              : `history requests failed ${attempts} times: ${failure}`,
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

  private emitStatus(
    kind: FeedStatusKind,
    stream: string,
    extra: { fromOpenTimeMs?: number; toOpenTimeMs?: number; detail?: string },
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
