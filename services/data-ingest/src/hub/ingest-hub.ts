import {
  candleEvent,
  FEED_STREAM,
  type FeedStatus,
  type FeedStatusKind,
  type MarketBus,
  statusEvent,
  tradeEvent,
} from '@visualgo/bus';
import {
  type Candle,
  type CandleGap,
  type ExchangeId,
  formatStreamName,
  type StreamId,
  type Trade,
  TradeBook,
  type TradeGap,
  type TradeStreamId,
} from '@visualgo/market';
import { Backoff, type Logger, sleep, TalliedCounter, type TallySeries } from '@visualgo/platform';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { HistoryStream } from './candle-history.js';
import type { CandleQuery, CandleStore } from './candle-store.js';
import type { HistorySource } from './history-source.js';
import type { IngestView } from './ingest-view.js';
import { StreamLiveness, type StreamStall } from './stream-liveness.js';

export interface IngestHubOptions {
  readonly exchange: ExchangeId;
  readonly streams: readonly StreamId[];
  /** Closed candles loaded per stream at start. */
  readonly historyCandles: number;
  /** Where the closed candles are kept (the record the bus replays from). */
  readonly store: CandleStore;
  /** Where the hub publishes what it releases. */
  readonly bus: MarketBus;
  /** The exchange's REST API: the start-up backfill and gap fills. */
  readonly history: HistorySource;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** Attempts per gap before it is declared unfillable. */
  readonly fillAttempts?: number;
  /** Trade gaps larger than this are reported unfilled without fetching them. Default 10 000. */
  readonly maxTradeGapFill?: number;
  readonly fillBackoff?: { initialMs: number; maxMs: number };
  /**
   * A kline stream that accepts no event for its interval plus this long is stalled, and the
   * service not ready (see `StreamLiveness`). Default 60 s.
   */
  readonly stallGraceMs?: number;
  /**
   * Told of each kline stream's start-up backfill, and awaited, before the live candles held
   * meanwhile are published: history, not news, that a bus between processes stores without
   * announcing (and joins to what it already holds first).
   */
  readonly onHistory?: (
    stream: string,
    candles: readonly Candle[],
    signal: AbortSignal,
  ) => void | Promise<void>;
  readonly now?: () => number;
}

interface KlineState {
  readonly stream: HistoryStream;
  filling: boolean;
}

interface TradeState {
  readonly name: string;
  readonly id: TradeStreamId;
  readonly book: TradeBook;
  filling: boolean;
}

type Fetched<T> =
  | { readonly value: T; readonly failure: null }
  | { readonly value: null; readonly failure: string };

/**
 * The ingest hub, the producer of the bus: takes live events from the exchange connector, offers
 * kline updates to each stream's candle book in the {@link CandleStore} (exactly-once, in-order
 * closed candles) and trades to a trade book per trade stream (every trade id once, in order),
 * fills gaps in either from REST, and publishes what they release, and its feed status, on the
 * bus. It also answers the edges' questions ({@link IngestView}).
 */
export class IngestHub implements IngestView {
  readonly exchange: ExchangeId;
  private readonly klines = new Map<string, KlineState>();
  private readonly trades = new Map<string, TradeState>();
  private readonly names: ReadonlySet<string>;
  private readonly store: CandleStore;
  private readonly bus: MarketBus;
  private readonly abort = new AbortController();
  private readonly fills = new Set<Promise<void>>();
  private connected = false;
  private historyLoaded = false;
  private readonly now: () => number;
  private readonly liveness: StreamLiveness;
  private readonly log: Logger;
  /** Events published, by stream: counted per event, so kept as plain numbers until scraped. */
  private readonly published = new Map<
    string,
    { open: TallySeries; closed: TallySeries; trade: TallySeries }
  >();
  private readonly m: {
    dropped: Counter<'stream' | 'reason'>;
    gaps: Counter<'stream' | 'outcome'>;
    lag: Histogram<'kind'>;
    connected: Gauge;
  };

  constructor(private readonly options: IngestHubOptions) {
    this.exchange = options.exchange;
    this.store = options.store;
    this.bus = options.bus;
    this.now = options.now ?? Date.now;
    this.liveness = new StreamLiveness(options.stallGraceMs ?? 60_000, this.now);
    this.log = options.logger.child({ component: 'hub' });
    this.names = new Set(options.streams.map(formatStreamName));
    for (const id of options.streams) {
      const name = formatStreamName(id);
      if (id.kind === 'kline') {
        const stream = this.store.stream(name);
        if (!stream) throw new RangeError(`stream ${name} is not in the candle store`);
        this.liveness.add(name, id.interval);
        this.klines.set(name, { stream, filling: false });
      } else {
        this.trades.set(name, { name, id, book: new TradeBook(), filling: false });
      }
    }
    const r = options.metrics;
    const events = new TalliedCounter<'stream' | 'kind'>({
      name: 'ingest_events_published_total',
      help: 'Events published to clients, by stream and kind (candle_open, candle_closed, trade)',
      labelNames: ['stream', 'kind'],
      registers: [r],
    });
    for (const name of this.names) {
      this.published.set(name, {
        open: events.series({ stream: name, kind: 'candle_open' }),
        closed: events.series({ stream: name, kind: 'candle_closed' }),
        trade: events.series({ stream: name, kind: 'trade' }),
      });
    }
    this.m = {
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

  streams(): readonly StreamId[] {
    return this.options.streams;
  }

  hasStream(stream: string): boolean {
    return this.names.has(stream);
  }

  candles(stream: string, query: CandleQuery): Promise<readonly Candle[]> {
    return this.store.candles(stream, query);
  }

  openCandle(stream: string): Candle | undefined {
    return this.store.openCandle(stream);
  }

  isReady(): boolean {
    return this.connected && this.historyLoaded && this.liveness.stalls().length === 0;
  }

  /** Whether the service is ready, and if not, why: one sentence per cause. */
  readiness(): { readonly ready: boolean; readonly reasons: readonly string[] } {
    const reasons: string[] = [];
    if (!this.connected) reasons.push('no exchange connection is up');
    if (!this.historyLoaded) reasons.push('the start-up history is still loading');
    if (this.connected && this.historyLoaded) for (const s of this.liveness.stalls()) reasons.push(s.reason);
    return { ready: reasons.length === 0, reasons };
  }

  /** Kline streams that accept no events although the exchange is connected. */
  stalledStreams(): readonly StreamStall[] {
    return this.connected && this.historyLoaded ? this.liveness.stalls() : [];
  }

  /**
   * Reports streams that stalled or recovered since the last call, as feed status (per stream:
   * `disconnected` with the reason, then `connected`) and logs. Called periodically by the
   * service; readiness answers without it.
   */
  checkLiveness(): void {
    if (!this.connected || !this.historyLoaded) return;
    const { stalled, recovered } = this.liveness.transitions();
    for (const s of stalled) {
      this.log.error(
        { stream: s.stream, silentMs: s.silentMs, dropped: s.dropped },
        'stream stalled: no event accepted',
      );
      this.emitStatus('disconnected', s.stream, { detail: `stalled: ${s.reason}` });
    }
    for (const stream of recovered) {
      this.log.info({ stream }, 'stream accepts events again');
      this.emitStatus('connected', stream, { detail: 'accepting events again' });
    }
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
          // Kept in the store, not published: the backfill is history, not news.
          backfill = await this.options.history.latestClosed(
            state.stream.id,
            this.options.historyCandles,
            this.abort.signal,
          );
        } catch (err) {
          if (this.abort.signal.aborted) return;
          this.log.error({ err, stream: state.stream.name }, 'history backfill failed');
          this.emitStatus('gap-unfilled', state.stream.name, {
            detail: 'initial history backfill failed',
          });
        }
        if (backfill.length > 0 && this.options.onHistory) {
          try {
            await this.options.onHistory(state.stream.name, backfill, this.abort.signal);
          } catch (err) {
            if (this.abort.signal.aborted) return;
            this.log.error({ err, stream: state.stream.name }, 'history not handed over');
          }
        }
        this.handle(state, state.stream.book.anchor(backfill));
        this.log.info({ stream: state.stream.name, candles: backfill.length }, 'history loaded');
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    this.historyLoaded = true;
    this.liveness.restart();
  }

  ingestCandle(stream: string, candle: Candle): void {
    const state = this.klines.get(stream);
    if (!state) return;
    this.m.lag.observe({ kind: 'candle' }, Math.max(0, candle.receivedTimeMs - candle.eventTimeMs) / 1000);
    const result = state.stream.book.offer(candle);
    if (result.dropped === 'duplicate' || result.dropped === 'stale') {
      this.m.dropped.inc({ stream, reason: result.dropped });
      this.liveness.dropped(stream, result.dropped);
    } else {
      this.liveness.accepted(stream);
    }
    this.handle(state, result);
  }

  ingestTrade(stream: string, trade: Trade): void {
    const state = this.trades.get(stream);
    if (!state) return;
    this.m.lag.observe({ kind: 'trade' }, Math.max(0, trade.receivedTimeMs - trade.eventTimeMs) / 1000);
    const result = state.book.offer(trade);
    if (result.dropped === 'duplicate') {
      this.m.dropped.inc({ stream, reason: 'duplicate' });
      return;
    }
    for (const t of result.publish) this.publishTrade(stream, t);
    if (result.gap) this.startTradeFill(state, result.gap);
  }

  setConnected(connected: boolean, detail?: string): void {
    if (connected === this.connected) return;
    this.connected = connected;
    if (connected) this.liveness.restart();
    this.m.connected.set(connected ? 1 : 0);
    this.emitStatus(
      connected ? 'connected' : 'disconnected',
      FEED_STREAM,
      detail === undefined ? {} : { detail },
    );
  }

  /** Stops gap filling and fetching history; waits for fills in flight to notice. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('hub stopped'));
    this.store.stop();
    await Promise.allSettled([...this.fills]);
  }

  private handle(state: KlineState, result: { publish: readonly Candle[]; gap: CandleGap | null }): void {
    for (const candle of result.publish) this.publishCandle(state.stream.name, candle);
    if (result.gap) this.startFill(state, result.gap);
  }

  private publishCandle(stream: string, candle: Candle): void {
    const counts = this.published.get(stream);
    if (counts) (candle.closed ? counts.closed : counts.open).value++;
    this.bus.publish(candleEvent(stream, candle));
  }

  private publishTrade(stream: string, trade: Trade): void {
    const counts = this.published.get(stream);
    if (counts) counts.trade.value++;
    this.bus.publish(tradeEvent(stream, trade));
  }

  private startFill(state: KlineState, gap: CandleGap): void {
    if (state.filling) return;
    state.filling = true;
    const stream = state.stream.name;
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
    const stream = state.stream.name;
    const attempts = this.options.fillAttempts ?? 5;
    const backoff = this.fillBackoff();
    let gap: CandleGap | null = first;
    while (gap && !this.abort.signal.aborted) {
      const range: CandleGap = gap;
      const got = await this.fetchWithRetry(stream, range, backoff, () =>
        this.options.history.closedBetween(
          state.stream.id,
          range.fromOpenTimeMs,
          range.toOpenTimeMs,
          this.abort.signal,
        ),
      );
      if (got === 'aborted') return;
      const fetched = got.value ?? [];
      const failure = got.failure;
      const result = state.stream.book.fill(fetched, gap);
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
    const stream = state.name;
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
        const got = await this.fetchWithRetry(stream, range, backoff, () =>
          this.options.history.tradesBetween(state.id, range.fromId, range.toId, this.abort.signal),
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

  private emitStatus(kind: FeedStatusKind, stream: string, extra: Omit<FeedStatus, 'kind' | 'timeMs'>): void {
    this.bus.publish(statusEvent(stream, { kind, timeMs: this.now(), ...extra }));
  }
}
