import type { Interval, StreamId } from '@visualgo/market';
import type { SimTrade } from './market-model.js';

/**
 * How a symbol's numbers are written: prices are whole ticks of `10^-tickDecimals`, quantities
 * whole lots of `10^-lotDecimals`, as on Binance where both steps are powers of ten.
 */
export interface SymbolFormat {
  /** Upper case: `BTCUSDT`. */
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly tickDecimals: number;
  readonly lotDecimals: number;
}

/** A kline's decimal fields as Binance writes them: 8 decimal places. */
export interface DecimalStrings {
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
  readonly quoteVolume: string;
  readonly takerBuyVolume: string;
  readonly takerBuyQuoteVolume: string;
}

/** One kline as of some instant, ready for the wire. */
export interface MarketCandle {
  readonly symbol: string;
  readonly interval: Interval;
  readonly openTimeMs: number;
  readonly closeTimeMs: number;
  readonly values: DecimalStrings;
  readonly trades: number;
  /** -1 when no trade happened, or when the source does not know the ids (kline files). */
  readonly firstTradeId: number;
  readonly lastTradeId: number;
  /** True when the instant it was computed for is past the candle's close. */
  readonly closed: boolean;
}

/**
 * The market of one symbol as the exchange's edges (streams, REST, ground truth) read it. Two
 * implementations: the seeded model (`ModelSource`) and recorded Binance files (`ReplaySource`).
 * Nothing here may look past the `untilMs`/`nowMs` it is given: that is how the exchange never
 * serves the future of a replay.
 */
export interface MarketSource {
  readonly format: SymbolFormat;
  /** Whether this symbol's stream (kline interval, trade, aggTrade) has data. */
  serves(stream: StreamId): boolean;
  /** Whether trades (stream and REST) have data. */
  readonly hasTrades: boolean;
  /** Open time of the first candle of `interval`, or null when the interval has no data. */
  firstOpenTimeMs(interval: Interval): number | null;
  /**
   * The candle of `interval` opening at `openTimeMs` as of `untilMs` (trades with time <
   * `untilMs`); the final candle once `untilMs` is past its close. Null when there is none.
   */
  candle(interval: Interval, openTimeMs: number, untilMs: number): MarketCandle | null;
  /** Candles opening in `[fromOpenMs, min(toOpenMs, nowMs)]` as of `nowMs`, ascending, at most `limit`. */
  candles(
    interval: Interval,
    fromOpenMs: number,
    toOpenMs: number,
    nowMs: number,
    limit: number,
  ): MarketCandle[];
  /** The `limit` most recent candles opening at or before `min(toOpenMs, nowMs)`, ascending. */
  latestCandles(interval: Interval, toOpenMs: number, nowMs: number, limit: number): MarketCandle[];
  /** Calls `visit` for every trade with `fromMs <= time < toMs`, in id order. */
  forEachTrade(fromMs: number, toMs: number, visit: (trade: SimTrade) => void): void;
  /** Up to `limit` trades with id >= `fromId` and time < `untilMs`, ascending by id. */
  tradesFromId(fromId: number, untilMs: number, limit: number): SimTrade[];
  /** The `limit` most recent trades with time < `untilMs`, ascending by id. */
  latestTrades(untilMs: number, limit: number): SimTrade[];
  /** Trades with `fromMs <= time < toMs`, at most `limit`. */
  trades(fromMs: number, toMs: number, limit: number): SimTrade[];
}
