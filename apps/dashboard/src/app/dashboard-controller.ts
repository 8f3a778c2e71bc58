import {
  type AlgoServerMessage,
  exchangeIdSchema,
  type IndicatorMessage,
  indicatorHistoryResponseSchema,
  type SnapshotMessage,
  type WireIndicatorPoint,
} from '@visualgo/contracts/algo';
import { binanceKlineRows } from '@visualgo/contracts/binance';
import { z } from 'zod';
import { AlgoFeed } from '../feed/algo-feed.js';
import {
  browserClock,
  type Clock,
  type SocketFactory,
  type SocketStatus,
} from '../feed/reconnecting-socket.js';
import { TradeFeed, type TradeTick } from '../feed/trade-feed.js';
import { type ArmingState, deriveArming } from '../model/arming.js';
import { FeedHealth, type FeedHealthView } from '../model/feed-health.js';
import { LagMeter } from '../model/lag-meter.js';
import { type SeriesChange, SeriesStore, type StreamMeta } from '../model/series-store.js';
import { type SignalOutcome, signalOutcomes } from '../model/signal-outcomes.js';
import type { RuntimeConfig } from './runtime-config.js';

/** What the controller needs from the chart: the PriceChart, or a recorder in tests. */
export interface ChartPort {
  reset(
    finals: readonly WireIndicatorPoint[],
    open: WireIndicatorPoint | null,
    view?: { readonly keepView?: boolean; readonly prepended?: number },
  ): void;
  applyTail(points: readonly WireIndicatorPoint[], finals: readonly WireIndicatorPoint[]): void;
  setWatermark(text: string): void;
}

export const streamInfoSchema = z.object({
  stream: z.string(),
  exchange: exchangeIdSchema,
  symbol: z.string(),
  interval: z.string(),
});
export type StreamInfo = z.infer<typeof streamInfoSchema>;
const streamsResponseSchema = z.object({ streams: z.array(streamInfoSchema) });

export interface DashboardView {
  readonly stream: string;
  readonly streams: readonly StreamInfo[];
  readonly streamsError: string | null;
  readonly meta: StreamMeta | null;
  readonly simulated: boolean;
  readonly algo: SocketStatus;
  readonly trades: SocketStatus;
  readonly lastFinal: WireIndicatorPoint | null;
  readonly provisional: WireIndicatorPoint | null;
  readonly candleCount: number;
  readonly arming: ArmingState;
  readonly signals: readonly SignalOutcome[];
  readonly health: FeedHealthView;
  /** Newest first. */
  readonly tape: readonly TradeTick[];
  readonly candleLagMs: number | null;
  readonly tradeLagMs: number | null;
  readonly olderState: 'idle' | 'loading' | 'exhausted' | 'failed';
  readonly badFrames: number;
  readonly serverError: string | null;
  readonly rubberbandK: number;
}

export interface ControllerOptions {
  readonly config: RuntimeConfig;
  readonly stream: string;
  readonly socketFactory: SocketFactory;
  readonly fetch: typeof fetch;
  readonly clock?: Clock;
  /** Schedules a flush: one per animation frame in the browser. */
  readonly requestFrame: (flush: () => void) => void;
  /** Final points kept; older ones are dropped (memory stays flat on a page left open). */
  readonly maxCandles?: number;
  readonly tapeLength?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number; readonly random?: () => number };
  /** Start of the VWAP period of a point (default: its `vwapFromMs`); a change re-arms and breaks the line. */
  readonly anchorOf?: (p: WireIndicatorPoint) => number | null;
}

/** No message for this long on an open connection: shown as stale (updates come every 1-2 s). */
export const STALE_AFTER_MS = 10_000;
const ALGO_DEAD_AFTER_MS = 45_000;
/** A quiet symbol can go a while without a trade; only a long silence replaces the connection. */
const TRADES_STALE_AFTER_MS = 30_000;
const TRADES_DEAD_AFTER_MS = 120_000;
const OLDER_PAGE = 1000;
/**
 * The open candle is redrawn at most this often. lightweight-charts rebuilds a series' item list
 * on every update (O(candles held) per series), so with 10,000 candles and nine series a redraw
 * per frame would cost more than a frame; trading-algo sends an open-candle update about every
 * 2 s per stream, so this limit only bites on bursts. Closed candles are drawn at once.
 */
export const PROVISIONAL_REDRAW_MS = 250;
const SIGNALS_SHOWN = 20;

/**
 * The page's state machine, without the DOM: it owns the two feeds, folds their messages into the
 * series store once per animation frame (a burst of updates costs one chart update and one render),
 * drives the chart, and answers `view()` for the panels.
 */
export class DashboardController {
  readonly store = new SeriesStore();
  readonly anchorOf: (p: WireIndicatorPoint) => number | null;
  private readonly health = new FeedHealth();
  private readonly algo: AlgoFeed;
  private readonly trades: TradeFeed;
  private readonly clock: Clock;
  private readonly maxCandles: number;
  private readonly tapeLength: number;
  private readonly candleLag = new LagMeter(30);
  private readonly tradeLag = new LagMeter(100);
  private currentStream: string;
  private streamList: StreamInfo[] = [];
  private streamsError: string | null = null;
  private chart: ChartPort | null = null;
  private pendingAlgo: { message: AlgoServerMessage; atMs: number }[] = [];
  private pendingTrades: TradeTick[] = [];
  private tape: TradeTick[] = [];
  private frameRequested = false;
  private listeners = new Set<() => void>();
  private cachedView: DashboardView | null = null;
  private derivedRevision = -1;
  private derived: { arming: ArmingState; signals: SignalOutcome[] } | null = null;
  private olderState: DashboardView['olderState'] = 'idle';
  private indicatorsExhausted = false;
  private serverError: string | null = null;
  private firstDataListeners: (() => void)[] = [];
  private lastProvisionalDrawMs = Number.NEGATIVE_INFINITY;
  private deferredTail: WireIndicatorPoint[] = [];
  private deferTimer: unknown = null;

  constructor(private readonly options: ControllerOptions) {
    this.clock = options.clock ?? browserClock;
    this.anchorOf = options.anchorOf ?? ((p) => p.vwapFromMs);
    this.currentStream = options.stream;
    this.maxCandles = options.maxCandles ?? 10_000;
    this.tapeLength = options.tapeLength ?? 100;
    const { config } = options;
    this.algo = new AlgoFeed({
      wsUrl: config.algoWsUrl,
      stream: this.currentStream,
      factory: options.socketFactory,
      clock: this.clock,
      staleAfterMs: STALE_AFTER_MS,
      deadAfterMs: ALGO_DEAD_AFTER_MS,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      onMessage: (message, atMs) => {
        this.pendingAlgo.push({ message, atMs });
        this.schedule();
      },
      onStatus: () => this.changed(),
    });
    this.trades = new TradeFeed({
      wsBaseUrl: config.ingestWsUrl,
      symbol: symbolOf(this.currentStream),
      factory: options.socketFactory,
      clock: this.clock,
      staleAfterMs: TRADES_STALE_AFTER_MS,
      deadAfterMs: TRADES_DEAD_AFTER_MS,
      onTrade: (trade) => {
        this.pendingTrades.push(trade);
        // A hidden tab gets no animation frames: keep the queue bounded meanwhile.
        if (this.pendingTrades.length > this.tapeLength * 4) {
          this.pendingTrades.splice(0, this.pendingTrades.length - this.tapeLength);
        }
        this.schedule();
      },
      onStatus: () => this.changed(),
    });
  }

  get stream(): string {
    return this.currentStream;
  }

  attachChart(chart: ChartPort): void {
    this.chart = chart;
    chart.reset(this.store.finals, this.store.provisional);
  }

  /** Called once, on the first frame that draws candles (the page is then usable). */
  onFirstData(listener: () => void): void {
    this.firstDataListeners.push(listener);
  }

  start(): void {
    this.algo.start();
    this.trades.start();
  }

  stop(): void {
    this.algo.stop();
    this.trades.stop();
  }

  /** Reconnect both feeds now (the browser came back online, the user asked). */
  reconnectNow(): void {
    this.algo.reconnectNow();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Loads the served streams for the picker; failures are shown, not fatal (the feed still works). */
  async loadStreams(): Promise<void> {
    try {
      const res = await this.options.fetch(`${this.options.config.algoHttpUrl}/api/streams`);
      if (!res.ok) throw new Error(`answered ${res.status}`);
      const parsed = streamsResponseSchema.safeParse(await res.json());
      if (!parsed.success) throw new Error('unexpected response');
      this.streamList = parsed.data.streams;
      this.streamsError = null;
    } catch (err) {
      this.streamsError = `stream list unavailable (${err instanceof Error ? err.message : String(err)})`;
    }
    this.changed();
  }

  selectStream(stream: string): void {
    if (stream === this.currentStream) return;
    this.currentStream = stream;
    this.store.clear();
    this.health.resetStream();
    this.tape = [];
    this.pendingTrades = [];
    this.candleLag.clear();
    this.tradeLag.clear();
    this.olderState = 'idle';
    this.indicatorsExhausted = false;
    this.serverError = null;
    this.deferredTail = [];
    this.chart?.reset([], null);
    this.chart?.setWatermark('');
    this.algo.setStream(stream);
    this.trades.setSymbol(symbolOf(stream));
    this.changed();
  }

  /** Applies everything received since the last frame. Public for tests; the browser calls it per frame. */
  flush(): void {
    this.frameRequested = false;
    const now = this.clock.now();
    const hadData = this.store.finals.length > 0 || this.store.provisional !== null;
    let reset = false;
    let tail: WireIndicatorPoint[] = [];
    const algo = this.pendingAlgo;
    this.pendingAlgo = [];
    for (const { message } of algo) {
      const change = this.apply(message, now);
      if (!change) continue;
      if (change.kind === 'reset') {
        reset = true;
        tail = [];
      } else if (!reset) {
        for (const p of change.points) {
          // Several updates of one candle in a frame: only the last one is drawn.
          if (tail.at(-1)?.openTimeMs === p.openTimeMs) tail[tail.length - 1] = p;
          else tail.push(p);
        }
      }
    }
    // A deferred open-candle redraw whose time has come (no new message needed).
    if (tail.length === 0 && !reset && this.deferredTail.length > 0 && this.deferTimer === null) {
      this.drawTail([], now);
    }
    let keepView = false;
    if (this.store.trim(this.maxCandles, Math.max(100, Math.floor(this.maxCandles / 10)))) {
      reset = true;
      keepView = true;
    }
    if (this.chart) {
      if (reset) {
        this.deferredTail = [];
        this.chart.reset(this.store.finals, this.store.provisional, { keepView });
        this.chart.setWatermark(this.simulated ? 'SIMULATED' : '');
      } else if (tail.length > 0) {
        this.drawTail(tail, now);
      }
    }
    let tradesChanged = false;
    if (this.pendingTrades.length > 0) {
      const symbol = symbolOf(this.currentStream);
      const fresh = this.pendingTrades.filter((t) => t.symbol === symbol);
      this.pendingTrades = [];
      for (const t of fresh) this.tradeLag.add(now - t.eventTimeMs);
      if (fresh.length > 0) {
        this.tape = fresh.reverse().concat(this.tape).slice(0, this.tapeLength);
        tradesChanged = true;
      }
    }
    if (algo.length > 0 || reset || tail.length > 0 || tradesChanged) this.changed();
    if (!hadData && (this.store.finals.length > 0 || this.store.provisional !== null)) {
      const listeners = this.firstDataListeners;
      this.firstDataListeners = [];
      for (const l of listeners) l();
    }
  }

  /** Closed candles at once; open-candle-only updates at most every {@link PROVISIONAL_REDRAW_MS}. */
  private drawTail(tail: readonly WireIndicatorPoint[], now: number): void {
    let points = this.deferredTail.concat(tail);
    this.deferredTail = [];
    // Keep only the newest update of each candle.
    points = points.filter((p, i) => points[i + 1]?.openTimeMs !== p.openTimeMs);
    const hasFinal = points.some((p) => p.final);
    if (!hasFinal && now - this.lastProvisionalDrawMs < PROVISIONAL_REDRAW_MS) {
      this.deferredTail = points;
      if (this.deferTimer === null) {
        this.deferTimer = this.clock.setTimeout(
          () => {
            this.deferTimer = null;
            this.schedule();
          },
          PROVISIONAL_REDRAW_MS - (now - this.lastProvisionalDrawMs),
        );
      }
      return;
    }
    this.lastProvisionalDrawMs = now;
    this.chart?.applyTail(points, this.store.finals);
  }

  get simulated(): boolean {
    return this.store.streamMeta?.exchange === 'binance-sim';
  }

  view(): DashboardView {
    if (this.cachedView) return this.cachedView;
    if (this.derivedRevision !== this.store.finalChangeCount || !this.derived) {
      this.derivedRevision = this.store.finalChangeCount;
      this.derived = {
        arming: deriveArming(this.store.finals, this.options.config.rubberbandK, this.anchorOf),
        signals: signalOutcomes(this.store.finals, this.options.config.signalHorizonCandles, SIGNALS_SHOWN),
      };
    }
    this.cachedView = {
      stream: this.currentStream,
      streams: this.streamList,
      streamsError: this.streamsError,
      meta: this.store.streamMeta,
      simulated: this.simulated,
      algo: this.algo.status,
      trades: this.trades.status,
      lastFinal: this.store.lastFinal,
      provisional: this.store.provisional,
      candleCount: this.store.finals.length,
      arming: this.derived.arming,
      signals: this.derived.signals,
      health: this.health.snapshot(),
      tape: this.tape,
      candleLagMs: this.candleLag.median(),
      tradeLagMs: this.tradeLag.median(),
      olderState: this.olderState,
      badFrames: this.algo.badFrames + this.trades.badFrames,
      serverError: this.serverError,
      rubberbandK: this.options.config.rubberbandK,
    };
    return this.cachedView;
  }

  /**
   * Scroll-back: final points older than the oldest held, from trading-algo's `/api/indicators`
   * (`endTimeMs`), then, past its history, plain candles from data-ingest's `/api/v3/klines`
   * (no indicator values: the lines stop there).
   */
  async loadOlder(): Promise<void> {
    if (this.olderState === 'loading' || this.olderState === 'exhausted') return;
    const first = this.store.finals[0];
    const meta = this.store.streamMeta;
    if (!first || !meta) return;
    const stream = this.currentStream;
    this.olderState = 'loading';
    this.changed();
    try {
      let points: WireIndicatorPoint[] = [];
      if (!this.indicatorsExhausted) {
        points = await this.fetchIndicators(stream, first.openTimeMs - 1);
        points = points.filter((p) => p.openTimeMs < first.openTimeMs);
        if (points.length === 0) this.indicatorsExhausted = true;
      }
      if (points.length === 0) points = await this.fetchKlines(meta, first.openTimeMs - 1);
      if (stream !== this.currentStream) return;
      const added = this.store.prependOlder(points);
      this.olderState = added > 0 ? 'idle' : 'exhausted';
      if (added > 0)
        this.chart?.reset(this.store.finals, this.store.provisional, { keepView: true, prepended: added });
    } catch {
      if (stream === this.currentStream) this.olderState = 'failed';
    } finally {
      this.changed();
    }
  }

  private async fetchIndicators(stream: string, endTimeMs: number): Promise<WireIndicatorPoint[]> {
    const url = `${this.options.config.algoHttpUrl}/api/indicators?stream=${encodeURIComponent(stream)}&limit=${OLDER_PAGE}&endTimeMs=${endTimeMs}`;
    const res = await this.options.fetch(url);
    if (!res.ok) return [];
    const parsed = indicatorHistoryResponseSchema.safeParse(await res.json());
    return parsed.success ? parsed.data.points : [];
  }

  private async fetchKlines(meta: StreamMeta, endTimeMs: number): Promise<WireIndicatorPoint[]> {
    const url = `${this.options.config.ingestHttpUrl}/api/v3/klines?symbol=${meta.symbol}&interval=${meta.interval}&endTime=${endTimeMs}&limit=${OLDER_PAGE}`;
    const res = await this.options.fetch(url);
    if (!res.ok) throw new Error(`klines answered ${res.status}`);
    const parsed = binanceKlineRows.safeParse(await res.json());
    if (!parsed.success) throw new Error('klines: unexpected response');
    return parsed.data.map(
      (r): WireIndicatorPoint => ({
        openTimeMs: r[0],
        closeTimeMs: r[6],
        final: true,
        open: Number(r[1]),
        high: Number(r[2]),
        low: Number(r[3]),
        close: Number(r[4]),
        volume: Number(r[5]),
        ema: null,
        vwap: null,
        vwapBands: null,
        atr: null,
        stretch: null,
        signal: 'none',
        vwapFromMs: null,
        vwapPartial: false,
        converged: false,
      }),
    );
  }

  private apply(message: AlgoServerMessage, nowMs: number): SeriesChange | null {
    switch (message.type) {
      case 'snapshot':
        return message.stream === this.currentStream ? this.applySnapshot(message) : null;
      case 'indicator':
        return message.stream === this.currentStream ? this.applyIndicator(message, nowMs) : null;
      case 'status':
        this.health.apply(message, this.currentStream);
        return null;
      case 'error':
        this.serverError = `${message.code}: ${message.message}`;
        return null;
      case 'signal':
      case 'subscriptions':
        // Signals are drawn from the final points (which carry them, snapshots included).
        return null;
    }
  }

  private applySnapshot(message: SnapshotMessage): SeriesChange {
    this.olderState = 'idle';
    this.indicatorsExhausted = false;
    return this.store.applySnapshot(message);
  }

  private applyIndicator(message: IndicatorMessage, nowMs: number): SeriesChange | null {
    const change = this.store.applyIndicator(message);
    // Exchange time of a final candle is its close; lag = on screen (this frame) minus that.
    if (change && message.final) this.candleLag.add(nowMs - (message.closeTimeMs + 1));
    return change;
  }

  private schedule(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    this.options.requestFrame(() => this.flush());
  }

  private changed(): void {
    this.cachedView = null;
    for (const l of this.listeners) l();
  }
}

/** `btcusdt@kline_1m` -> `BTCUSDT`. */
export function symbolOf(stream: string): string {
  return (stream.split('@')[0] ?? stream).toUpperCase();
}
