import type {
  IndicatorMessage,
  SignalMessage,
  SnapshotMessage,
  WireIndicatorPoint,
  WireVwapBands,
} from '@visualgo/contracts';
import {
  type Candle,
  candleIndexOf,
  type ExchangeId,
  type IndicatorConfig,
  type IndicatorPoint,
  IndicatorSet,
  type IndicatorSetState,
  type Interval,
  openTimeOfCandleIndex,
  type SeriesOrigin,
} from '@visualgo/market';
import { type Logger, LogThrottle } from '@visualgo/platform';
import type { EngineMetrics } from '../algo-metrics.js';
import { PointColumns } from './point-columns.js';

/** One kline stream as data-ingest lists it. */
export interface StreamInfo {
  readonly stream: string;
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly interval: Interval;
}

export type EngineEvent =
  /** A stream became known (from the feed's stream list, or its first candle). */
  | { readonly type: 'stream-added'; readonly info: StreamInfo }
  /** The stream's history was filled in bulk (warm-up); clients should be sent a fresh snapshot. */
  | { readonly type: 'history-loaded'; readonly stream: string }
  | { readonly type: 'indicator'; readonly message: IndicatorMessage }
  | { readonly type: 'signal'; readonly message: SignalMessage };

export interface IndicatorEngineOptions {
  readonly indicators: IndicatorConfig;
  /** Final points kept per stream. */
  readonly historyPoints: number;
  readonly logger: Logger;
  readonly metrics?: EngineMetrics;
}

interface StreamState {
  readonly info: StreamInfo;
  readonly set: IndicatorSet;
  readonly history: PointColumns;
  /**
   * Leading warm-up points whose EMA and ATR have not converged: dropped once a converged point
   * follows (they only warmed the chains up), kept (flagged) if the warm-up ends without one.
   */
  pending: [Candle, IndicatorPoint][];
  convergedInBulk: boolean;
}

const NO_METRICS: EngineMetrics = {
  candleIn: () => {},
  pointOut: () => {},
  signalFired: () => {},
  rejected: () => {},
};

/**
 * Indicators of every stream: one {@link IndicatorSet} each. Closed candles are committed and
 * give final points (kept in a bounded history) and signals; open candles give provisional
 * points that are never committed. A candle the state refuses (a closed candle seen again after a
 * resume, one out of order, an invalid one) is counted and logged, never thrown.
 */
export class IndicatorEngine {
  private readonly states = new Map<string, StreamState>();
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private readonly metrics: EngineMetrics;
  private readonly log: Logger;
  private readonly throttle = new LogThrottle();
  private listed = false;
  private readonly origin: SeriesOrigin;

  constructor(private readonly options: IndicatorEngineOptions) {
    this.metrics = options.metrics ?? NO_METRICS;
    this.log = options.logger.child({ component: 'engine' });
    // Fail at start, not on the first candle, when the parameters are out of range.
    this.origin = new IndicatorSet(options.indicators).origin;
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** True once the feed has declared the streams it serves; before that, any stream may still appear. */
  get streamsListed(): boolean {
    return this.listed;
  }

  declareStreams(infos: readonly StreamInfo[]): void {
    this.listed = true;
    for (const info of infos) this.stateFor(info);
  }

  streams(): StreamInfo[] {
    return [...this.states.values()].map((s) => s.info);
  }

  info(stream: string): StreamInfo | undefined {
    return this.states.get(stream)?.info;
  }

  /**
   * Where a stream's history must start loading, given its latest closed candle, for every one of
   * the `historyPoints` final points kept to be exact: the calendar-fixed origin of the oldest
   * ({@link SeriesOrigin.computeFromMs}).
   */
  warmupFromMs(info: StreamInfo, latestClosedOpenTimeMs: number): number {
    const { interval } = info;
    const firstPoint = openTimeOfCandleIndex(
      interval,
      candleIndexOf(interval, latestClosedOpenTimeMs) - (this.options.historyPoints - 1),
    );
    return this.origin.computeFromMs(interval, this.options.indicators.vwapAnchor, firstPoint);
  }

  /** The feed delivers every candle from `openTimeMs` on; values that depend on earlier ones are flagged. */
  completeFrom(stream: string, openTimeMs: number): void {
    this.states.get(stream)?.set.markCompleteFrom(openTimeMs);
  }

  /** Open time of the last final point: where the feed resumes. */
  lastClosedOpenTimeMs(stream: string): number | null {
    return this.states.get(stream)?.set.lastClosedOpenTimeMs ?? null;
  }

  /**
   * The newest `limit` final points of a stream (opening at or before `endTimeMs` when given),
   * oldest first; null for an unknown stream.
   */
  history(stream: string, limit: number, endTimeMs?: number): WireIndicatorPoint[] | null {
    const history = this.states.get(stream)?.history;
    if (!history) return null;
    return endTimeMs === undefined ? history.last(limit) : history.lastUpTo(endTimeMs, limit);
  }

  /** Final points kept, and the bytes allocated for them, over every stream. */
  historyStats(): { readonly points: number; readonly bytes: number } {
    let points = 0;
    let bytes = 0;
    for (const state of this.states.values()) {
      points += state.history.size;
      bytes += state.history.byteLength;
    }
    return { points, bytes };
  }

  /** Number of final points committed so far (changes exactly when the history does). */
  finalCount(stream: string): number {
    return this.states.get(stream)?.set.closedCount ?? 0;
  }

  snapshot(stream: string, limit: number): SnapshotMessage | null {
    const state = this.states.get(stream);
    if (!state) return null;
    return { type: 'snapshot', ...state.info, points: state.history.last(limit) };
  }

  /**
   * Applies one candle update. With `bulk` (warm-up from history) the candle is committed without
   * emitting messages; call {@link historyLoaded} afterwards so clients get a snapshot instead.
   */
  onCandle(stream: string, candle: Candle, bulk = false): void {
    const state =
      this.states.get(stream) ??
      this.stateFor({ stream, exchange: candle.exchange, symbol: candle.symbol, interval: candle.interval });
    this.metrics.candleIn(stream, candle.closed);
    const result = candle.closed ? state.set.addClosed(candle) : state.set.previewOpen(candle);
    if (result.type === 'candle-rejection') {
      this.metrics.rejected(stream, result.reason);
      const suppressed = this.throttle.take(`${stream}:${result.reason}`);
      if (suppressed !== null) {
        this.log.warn(
          {
            stream,
            reason: result.reason,
            openTimeMs: result.openTimeMs,
            lastClosedOpenTimeMs: result.lastClosedOpenTimeMs,
            closed: candle.closed,
            suppressed,
          },
          'candle rejected by indicator state',
        );
      }
      return;
    }
    if (result.final) this.record(state, candle, result, bulk);
    this.metrics.pointOut(stream, result.final);
    if (bulk) return;
    this.emit({
      type: 'indicator',
      message: {
        type: 'indicator',
        stream,
        exchange: candle.exchange,
        symbol: candle.symbol,
        interval: candle.interval,
        ...wirePoint(candle, result),
      },
    });
    const { signal, ema, vwap, stretch } = result;
    if (result.final && signal !== 'none' && ema !== null && vwap !== null && stretch !== null) {
      this.metrics.signalFired(stream, signal);
      this.emit({
        type: 'signal',
        message: {
          type: 'signal',
          stream,
          exchange: candle.exchange,
          openTimeMs: candle.openTimeMs,
          side: signal,
          close: candle.close,
          ema,
          vwap,
          stretch,
        },
      });
    }
  }

  /** The indicator state of a stream, as plain data (a snapshot to continue from elsewhere); null if unknown. */
  saveState(stream: string): IndicatorSetState | null {
    return this.states.get(stream)?.set.saveState() ?? null;
  }

  /**
   * Takes up a stream from a saved state (another process's, or this one's before a restart): its
   * next closed candle continues the series bit for bit. The points kept for snapshots start empty.
   * Throws a `RangeError` when the state was saved with other indicator settings.
   */
  restoreState(info: StreamInfo, state: IndicatorSetState): void {
    const { indicators } = this.options;
    const c = state.config;
    if (
      c.emaPeriod !== indicators.emaPeriod ||
      c.atrPeriod !== indicators.atrPeriod ||
      c.vwapAnchor !== indicators.vwapAnchor ||
      c.vwapSource !== indicators.vwapSource ||
      c.rubberbandK !== indicators.rubberbandK ||
      c.vwapBands.join() !== indicators.vwapBands.join()
    ) {
      throw new RangeError(`${info.stream}: the saved state has other indicator settings`);
    }
    const existing = this.states.get(info.stream);
    const set = IndicatorSet.restore(state);
    if (existing) {
      this.states.set(info.stream, { ...existing, set, pending: [], convergedInBulk: false });
      return;
    }
    this.stateFor(info);
    const fresh = this.states.get(info.stream) as StreamState;
    this.states.set(info.stream, { ...fresh, set });
  }

  /** Forgets a stream (another process took it over). */
  removeStream(stream: string): void {
    this.states.delete(stream);
  }

  /** Announces that a stream's history was (re)filled in bulk. */
  historyLoaded(stream: string): void {
    const state = this.states.get(stream);
    if (!state) return;
    for (const [candle, point] of state.pending) state.history.push(candle, point);
    state.pending = [];
    state.convergedInBulk = false;
    this.emit({ type: 'history-loaded', stream });
  }

  private record(state: StreamState, candle: Candle, point: IndicatorPoint, bulk: boolean): void {
    if (bulk && !point.converged && !state.convergedInBulk) {
      state.pending.push([candle, point]);
      if (state.pending.length > this.options.historyPoints * 2)
        state.pending.splice(0, this.options.historyPoints);
      return;
    }
    if (bulk && !state.convergedInBulk) {
      state.convergedInBulk = true;
      state.pending = [];
    }
    state.history.push(candle, point);
  }

  private stateFor(info: StreamInfo): StreamState {
    let state = this.states.get(info.stream);
    if (!state) {
      state = {
        info,
        set: new IndicatorSet(this.options.indicators),
        history: new PointColumns(
          info.interval,
          this.options.indicators.vwapBands,
          this.options.historyPoints,
        ),
        pending: [],
        convergedInBulk: false,
      };
      this.states.set(info.stream, state);
      this.emit({ type: 'stream-added', info });
    }
    return state;
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err, event: event.type }, 'engine listener failed');
      }
    }
  }
}

/** The wire form of a point: candle prices beside the indicators, bands keyed by multiplier. */
export function wirePoint(candle: Candle, point: IndicatorPoint): WireIndicatorPoint {
  let bands: WireVwapBands = null;
  if (point.vwapBands !== null) {
    bands = {};
    for (const band of point.vwapBands) bands[String(band.multiplier)] = [band.lower, band.upper];
  }
  return {
    openTimeMs: point.openTimeMs,
    closeTimeMs: point.closeTimeMs,
    final: point.final,
    open: candle.open,
    high: candle.high,
    low: candle.low,
    close: candle.close,
    volume: candle.volume,
    ema: point.ema,
    vwap: point.vwap,
    vwapBands: bands,
    atr: point.atr,
    stretch: point.stretch,
    signal: point.signal,
    vwapFromMs: point.vwapFromMs,
    vwapPartial: point.vwapPartial,
    converged: point.converged,
  };
}
