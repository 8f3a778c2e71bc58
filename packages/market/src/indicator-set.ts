import { Atr, type AtrState, DEFAULT_ATR_PERIOD } from './atr.js';
import type { Candle, ExchangeId } from './candle.js';
import { DEFAULT_EMA_PERIOD, Ema, type EmaState } from './ema.js';
import type { Interval } from './interval.js';
import {
  DEFAULT_RUBBERBAND_K,
  Rubberband,
  type RubberbandInput,
  type RubberbandSignal,
  type RubberbandState,
} from './rubberband.js';
import { SeriesOrigin } from './series-origin.js';
import {
  DEFAULT_VWAP_ANCHOR,
  DEFAULT_VWAP_BANDS,
  DEFAULT_VWAP_SOURCE,
  Vwap,
  type VwapAnchor,
  VwapReading,
  type VwapSource,
  type VwapState,
} from './vwap.js';

/** Parameters of one stream's indicators; the service maps its env config onto this. */
export interface IndicatorConfig {
  readonly emaPeriod: number;
  readonly atrPeriod: number;
  readonly vwapAnchor: VwapAnchor;
  readonly vwapSource: VwapSource;
  /** Multipliers m of the VWAP ± m·σ bands, in output order. */
  readonly vwapBands: readonly number[];
  readonly rubberbandK: number;
}

export const DEFAULT_INDICATOR_CONFIG: IndicatorConfig = {
  emaPeriod: DEFAULT_EMA_PERIOD,
  atrPeriod: DEFAULT_ATR_PERIOD,
  vwapAnchor: DEFAULT_VWAP_ANCHOR,
  vwapSource: DEFAULT_VWAP_SOURCE,
  vwapBands: DEFAULT_VWAP_BANDS,
  rubberbandK: DEFAULT_RUBBERBAND_K,
};

export interface VwapBand {
  readonly multiplier: number;
  readonly lower: number;
  readonly upper: number;
}

/** The indicator values of one candle: committed (`final: true`) or provisional (`final: false`). */
export interface IndicatorPoint {
  readonly type: 'indicator-point';
  readonly openTimeMs: number;
  readonly closeTimeMs: number;
  readonly final: boolean;
  readonly ema: number | null;
  readonly vwap: number | null;
  readonly vwapSigma: number | null;
  /** One band per configured multiplier, in config order; null when `vwap` is. */
  readonly vwapBands: readonly VwapBand[] | null;
  readonly atr: number | null;
  readonly stretch: number | null;
  /**
   * Decided on a final point; on a provisional one, what would fire if the candle closed as it is.
   * Always `none` unless the point is exact (`!vwapPartial && converged` and the same held for every
   * point of the VWAP period so far): a signal is never fired from values that could be wrong.
   */
  readonly signal: RubberbandSignal;
  /** Open time of the first candle the VWAP covers (its anchor period's start when complete); null when `vwap` is. */
  readonly vwapFromMs: number | null;
  /** The VWAP period started before the history was complete: VWAP and bands cover only part of it. */
  readonly vwapPartial: boolean;
  /** EMA and ATR (so the stretch) come from a chain with complete history: they equal the full-history values to 1e-9. */
  readonly converged: boolean;
}

export type CandleRejectionReason =
  /** A closed candle with this open time was already added. */
  | 'duplicate'
  /** The candle opens before the last closed candle. */
  | 'out-of-order'
  /** `addClosed` was given a candle whose `closed` flag is false. */
  | 'not-closed'
  /** Exchange, symbol or interval differ from the first candle this set saw. */
  | 'stream-mismatch'
  /** A non-finite field, a negative volume, or high below low. */
  | 'invalid-candle';

/** Returned instead of a point when a candle would corrupt the state; the state is then unchanged. */
export interface CandleRejection {
  readonly type: 'candle-rejection';
  readonly reason: CandleRejectionReason;
  readonly openTimeMs: number;
  readonly lastClosedOpenTimeMs: number | null;
}

/**
 * Everything an {@link IndicatorSet} holds, as plain data ({@link IndicatorSet.saveState}): a set
 * of the same config restored from it gives the same points, bit for bit, as the set it was saved
 * from. Numbers may be non-finite (±∞ bounds, NaN before the first candle): an encoding must carry them.
 */
export interface IndicatorSetState {
  readonly version: 1;
  readonly config: IndicatorConfig;
  readonly chains: readonly {
    readonly epoch: number;
    readonly startMs: number;
    readonly exact: boolean;
    readonly ema: EmaState;
    readonly atr: AtrState;
  }[];
  readonly completeFrom: number;
  readonly periodClean: boolean;
  readonly cleanPeriodStart: number;
  readonly vwap: VwapState;
  readonly rubberband: RubberbandState;
  readonly stream: {
    readonly exchange: ExchangeId;
    readonly symbol: string;
    readonly interval: Interval;
  } | null;
  readonly lastClosedOpenTime: number | null;
  readonly lastPoint: IndicatorPoint | null;
  readonly closed: number;
}

type MutableRubberbandInput = { -readonly [K in keyof RubberbandInput]: RubberbandInput[K] };

/** The EMA and ATR of one epoch, seeded at the epoch's chain start ({@link SeriesOrigin}). */
interface Chain {
  readonly epoch: number;
  readonly startMs: number;
  readonly ema: Ema;
  readonly atr: Atr;
  /** Every candle from the chain start on was added: its values are the calendar-fixed ones. */
  exact: boolean;
}

/**
 * EMA, ATR, anchored VWAP and the rubberband signal of one candle stream, as the trading algorithm
 * holds them: closed candles are committed with `addClosed`, updates of the open candle are
 * evaluated with `previewOpen` and never committed, so a provisional value cannot leak into the
 * final series.
 *
 * Values are a function of the candles alone, not of where a process started: EMA and ATR run in
 * calendar-fixed chains ({@link SeriesOrigin}), the VWAP resets at calendar anchors. The set is
 * told from which open time its input is complete ({@link markCompleteFrom}; by default the first
 * candle it is given is the start of the market's history); a value that depends on candles
 * before that is flagged (`vwapPartial`, `converged: false`) and fires no signal.
 *
 * Candles the state cannot take are rejected, not thrown: `addClosed` and `previewOpen` return a
 * {@link CandleRejection} (discriminated by `type`) for a closed candle seen again, a candle older
 * than the last closed one, a candle of another stream, or invalid numbers, and change nothing. A
 * gap (missing candles) is accepted: the indicators continue across it, as a chart would.
 *
 * Each call is O(1); it allocates only the returned point and its bands.
 */
export class IndicatorSet {
  readonly config: IndicatorConfig;

  readonly origin: SeriesOrigin;
  /** Chains whose start is at or before the last committed candle, ascending by epoch. */
  private chains: Chain[] = [];
  private completeFrom = Number.NEGATIVE_INFINITY;
  /** Whether every committed candle of the current VWAP period had a converged chain. */
  private periodClean = true;
  private cleanPeriodStart = Number.NaN;
  private readonly vwap: Vwap;
  private readonly rubberband: Rubberband;
  private readonly reading = new VwapReading();
  private readonly rubberbandInput: MutableRubberbandInput = {
    close: 0,
    ema: null,
    atr: null,
    vwap: null,
    anchorStartMs: 0,
  };

  private stream: { exchange: ExchangeId; symbol: string; interval: Interval } | null = null;
  private lastClosedOpenTime: number | null = null;
  private lastPoint: IndicatorPoint | null = null;
  private closed = 0;

  /** Throws a `RangeError` for an invalid period, band multiplier or K. */
  constructor(config: Partial<IndicatorConfig> = {}) {
    this.config = { ...DEFAULT_INDICATOR_CONFIG, ...config };
    // Validates the periods before any chain exists.
    new Ema(this.config.emaPeriod);
    new Atr(this.config.atrPeriod);
    this.origin = new SeriesOrigin(this.config.emaPeriod, this.config.atrPeriod);
    this.vwap = new Vwap({
      anchor: this.config.vwapAnchor,
      source: this.config.vwapSource,
      bands: this.config.vwapBands,
    });
    this.rubberband = new Rubberband(this.config.rubberbandK);
  }

  /** Open time of the last committed candle: where a resumed feed should continue from. */
  get lastClosedOpenTimeMs(): number | null {
    return this.lastClosedOpenTime;
  }

  /** Number of committed candles. */
  get closedCount(): number {
    return this.closed;
  }

  /** The point returned by the last successful `addClosed`. */
  getLastPoint(): IndicatorPoint | null {
    return this.lastPoint;
  }

  /** Open time from which the input is complete (−∞ until {@link markCompleteFrom} is called). */
  get completeFromMs(): number {
    return this.completeFrom;
  }

  /**
   * Declares that every candle the market has from `openTimeMs` on is, or will be, given to this
   * set, and that candles before it may be missing: the warm-up's first open time, or the end of a
   * hole in the history that could not be filled. Values that depend on earlier candles are flagged
   * from then on. Only ever moves forward.
   */
  markCompleteFrom(openTimeMs: number): void {
    if (!(openTimeMs > this.completeFrom)) return;
    this.completeFrom = openTimeMs;
    for (const chain of this.chains) if (chain.startMs < openTimeMs) chain.exact = false;
  }

  /** The whole state, as plain data (see {@link IndicatorSetState}); the set is unchanged. */
  saveState(): IndicatorSetState {
    return {
      version: 1,
      config: { ...this.config, vwapBands: [...this.config.vwapBands] },
      chains: this.chains.map((c) => ({
        epoch: c.epoch,
        startMs: c.startMs,
        exact: c.exact,
        ema: c.ema.saveState(),
        atr: c.atr.saveState(),
      })),
      completeFrom: this.completeFrom,
      periodClean: this.periodClean,
      cleanPeriodStart: this.cleanPeriodStart,
      vwap: this.vwap.saveState(),
      rubberband: this.rubberband.saveState(),
      stream: this.stream === null ? null : { ...this.stream },
      lastClosedOpenTime: this.lastClosedOpenTime,
      lastPoint: this.lastPoint,
      closed: this.closed,
    };
  }

  /**
   * A set that continues from a saved state. Throws a `RangeError` when the state was saved with
   * another indicator config (its values would not be this config's).
   */
  static restore(state: IndicatorSetState): IndicatorSet {
    if (state.version !== 1) throw new RangeError(`unknown indicator state version ${String(state.version)}`);
    const set = new IndicatorSet(state.config);
    set.chains = state.chains.map((c) => {
      const ema = new Ema(set.config.emaPeriod);
      ema.restoreState(c.ema);
      const atr = new Atr(set.config.atrPeriod);
      atr.restoreState(c.atr);
      return { epoch: c.epoch, startMs: c.startMs, exact: c.exact, ema, atr };
    });
    set.completeFrom = state.completeFrom;
    set.periodClean = state.periodClean;
    set.cleanPeriodStart = state.cleanPeriodStart;
    set.vwap.restoreState(state.vwap);
    set.rubberband.restoreState(state.rubberband);
    set.stream = state.stream === null ? null : { ...state.stream };
    set.lastClosedOpenTime = state.lastClosedOpenTime;
    set.lastPoint = state.lastPoint;
    set.closed = state.closed;
    return set;
  }

  /** Commits a closed candle and returns its final point. */
  addClosed(candle: Candle): IndicatorPoint | CandleRejection {
    const rejection = this.check(candle) ?? (candle.closed ? null : this.reject(candle, 'not-closed'));
    if (rejection !== null) return rejection;
    this.stream ??= { exchange: candle.exchange, symbol: candle.symbol, interval: candle.interval };

    const chain = this.advanceChains(candle);
    let ema: number | null = null;
    let atr: number | null = null;
    for (const c of this.chains) {
      const e = c.ema.add(candle.close);
      const a = c.atr.add(candle);
      if (c === chain) {
        ema = e;
        atr = a;
      }
    }
    this.vwap.add(candle);
    this.vwap.readInto(this.reading);
    const input = this.fillRubberbandInput(candle, ema, atr);
    const stretch = this.rubberband.add(input);
    if (input.anchorStartMs !== this.cleanPeriodStart) {
      this.cleanPeriodStart = input.anchorStartMs;
      this.periodClean = true;
    }
    this.periodClean &&= chain.exact;
    const point = this.point(
      candle,
      true,
      ema,
      atr,
      stretch,
      this.rubberband.getSignal(),
      chain.exact,
      this.periodClean,
    );

    this.lastClosedOpenTime = candle.openTimeMs;
    this.lastPoint = point;
    this.closed += 1;
    return point;
  }

  /** The provisional point of the open candle as it is now; commits nothing. */
  previewOpen(candle: Candle): IndicatorPoint | CandleRejection {
    const rejection = this.check(candle);
    if (rejection !== null) return rejection;

    const epoch = this.origin.epochOf(candle.interval, candle.openTimeMs);
    const chain = this.chains.find((c) => c.epoch === epoch);
    // A candle whose chain has not started (the first candle, or after a hole spanning an epoch
    // boundary) would start a fresh one: not warmed up yet.
    const ema = chain ? chain.ema.preview(candle.close) : null;
    const atr = chain ? chain.atr.preview(candle) : null;
    const exact = chain ? chain.exact : this.chainStartMs(candle, epoch) >= this.completeFrom;
    this.vwap.previewInto(candle, this.reading);
    const input = this.fillRubberbandInput(candle, ema, atr);
    const stretch = this.rubberband.preview(input);
    const clean = (input.anchorStartMs === this.cleanPeriodStart ? this.periodClean : true) && exact;
    return this.point(candle, false, ema, atr, stretch, this.rubberband.previewSignal(input), exact, clean);
  }

  /**
   * Drops the chains of past epochs and starts every chain whose start this candle reaches (the
   * candle's own epoch's, when it is missing, and the next epochs' once their warm-up begins);
   * returns the chain of the candle's epoch.
   */
  private advanceChains(candle: Candle): Chain {
    const { interval, openTimeMs } = candle;
    const epoch = this.origin.epochOf(interval, openTimeMs);
    this.chains = this.chains.filter((c) => c.epoch >= epoch);
    const newest = this.chains.at(-1)?.epoch ?? epoch - 1;
    for (let e = Math.max(epoch, newest + 1); this.chainStartMs(candle, e) <= openTimeMs; e++) {
      const startMs = this.chainStartMs(candle, e);
      this.chains.push({
        epoch: e,
        startMs,
        ema: new Ema(this.config.emaPeriod),
        atr: new Atr(this.config.atrPeriod),
        exact: startMs >= this.completeFrom,
      });
    }
    const own = this.chains[0];
    if (own === undefined || own.epoch !== epoch) throw new Error('no chain for the candle epoch');
    return own;
  }

  private chainStartMs(candle: Candle, epoch: number): number {
    return this.origin.chainStartMs(candle.interval, epoch);
  }

  private check(candle: Candle): CandleRejection | null {
    if (!isValidCandle(candle)) return this.reject(candle, 'invalid-candle');
    const stream = this.stream;
    if (
      stream !== null &&
      (stream.exchange !== candle.exchange ||
        stream.symbol !== candle.symbol ||
        stream.interval !== candle.interval)
    ) {
      return this.reject(candle, 'stream-mismatch');
    }
    const last = this.lastClosedOpenTime;
    if (last !== null && candle.openTimeMs === last) return this.reject(candle, 'duplicate');
    if (last !== null && candle.openTimeMs < last) return this.reject(candle, 'out-of-order');
    return null;
  }

  private reject(candle: Candle, reason: CandleRejectionReason): CandleRejection {
    return {
      type: 'candle-rejection',
      reason,
      openTimeMs: candle.openTimeMs,
      lastClosedOpenTimeMs: this.lastClosedOpenTime,
    };
  }

  private fillRubberbandInput(candle: Candle, ema: number | null, atr: number | null): RubberbandInput {
    const input = this.rubberbandInput;
    input.close = candle.close;
    input.ema = ema;
    input.atr = atr;
    input.vwap = this.reading.vwap;
    input.anchorStartMs = this.vwap.anchorStartMsOf(candle.openTimeMs);
    return input;
  }

  private point(
    candle: Candle,
    final: boolean,
    ema: number | null,
    atr: number | null,
    stretch: number | null,
    signal: RubberbandSignal,
    converged: boolean,
    periodClean: boolean,
  ): IndicatorPoint {
    const { vwap, sigma, fromMs } = this.reading;
    const periodStart = this.vwap.anchorStartMsOf(candle.openTimeMs);
    // Without an anchor the VWAP starts at the first candle it was given, which `vwapFromMs` says.
    const vwapPartial = Number.isFinite(periodStart) && periodStart < this.completeFrom;
    let bands: VwapBand[] | null = null;
    if (vwap !== null && sigma !== null) {
      bands = [];
      for (const multiplier of this.vwap.bands) {
        bands.push({ multiplier, lower: vwap - multiplier * sigma, upper: vwap + multiplier * sigma });
      }
    }
    return {
      type: 'indicator-point',
      openTimeMs: candle.openTimeMs,
      closeTimeMs: candle.closeTimeMs,
      final,
      ema,
      vwap,
      vwapSigma: sigma,
      vwapBands: bands,
      atr,
      stretch,
      signal: periodClean && !vwapPartial ? signal : 'none',
      vwapFromMs: fromMs,
      vwapPartial,
      converged,
    };
  }
}

function isValidCandle(candle: Candle): boolean {
  return (
    Number.isFinite(candle.openTimeMs) &&
    Number.isFinite(candle.closeTimeMs) &&
    Number.isFinite(candle.open) &&
    Number.isFinite(candle.high) &&
    Number.isFinite(candle.low) &&
    Number.isFinite(candle.close) &&
    Number.isFinite(candle.volume) &&
    Number.isFinite(candle.quoteVolume) &&
    candle.volume >= 0 &&
    candle.quoteVolume >= 0 &&
    candle.high >= candle.low
  );
}
