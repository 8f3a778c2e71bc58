import type { Interval } from './interval.js';

/** The exchanges (venues) market data comes from; the simulated one is named apart, always. */
export const EXCHANGE_IDS = ['binance', 'binance-sim'] as const;

/** Exchange identifier carried on every event so simulated prices can never pass for real ones. */
export type ExchangeId = (typeof EXCHANGE_IDS)[number];

export function isExchangeId(value: string): value is ExchangeId {
  return (EXCHANGE_IDS as readonly string[]).includes(value);
}

/** One kline state: the candle as of its latest update, or its final state when `closed`. */
export interface Candle {
  readonly type: 'candle';
  readonly exchange: ExchangeId;
  /** Upper case, as Binance reports it: `BTCUSDT`. */
  readonly symbol: string;
  readonly interval: Interval;
  readonly openTimeMs: number;
  /** Last millisecond of the candle (Binance convention). */
  readonly closeTimeMs: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  /** Base asset volume. */
  readonly volume: number;
  /** Quote asset volume: Σ price·quantity over the candle's trades. */
  readonly quoteVolume: number;
  readonly takerBuyVolume: number;
  readonly takerBuyQuoteVolume: number;
  readonly trades: number;
  /** First and last trade id in the candle; -1 when it has no trades. */
  readonly firstTradeId: number;
  readonly lastTradeId: number;
  readonly closed: boolean;
  /** Exchange time of the update that produced this state. */
  readonly eventTimeMs: number;
  /** Local time at which it was received. */
  readonly receivedTimeMs: number;
}

/** One executed trade. */
export interface Trade {
  readonly type: 'trade';
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly tradeId: number;
  readonly price: number;
  readonly quantity: number;
  readonly tradeTimeMs: number;
  /** True when the buyer was the maker, i.e. the taker sold. */
  readonly buyerIsMaker: boolean;
  readonly eventTimeMs: number;
  readonly receivedTimeMs: number;
}
