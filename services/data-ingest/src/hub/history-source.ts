import type { Candle, Trade } from '@visualgo/market';
import type { StreamDescriptor } from './market-hub.js';

/** A closed candle from history, with the Binance event payload to send WebSocket clients for it. */
export interface HistoricalCandle {
  readonly candle: Candle;
  readonly payload: unknown;
}

/** A trade from history, with the Binance trade event to send WebSocket clients for it. */
export interface HistoricalTrade {
  readonly trade: Trade;
  readonly payload: unknown;
}

/** Where the hub gets candles and trades it did not see live: the exchange's REST API. */
export interface HistorySource {
  /** The last `count` closed candles of a kline stream, oldest first. */
  latestClosed(
    stream: StreamDescriptor,
    count: number,
    signal: AbortSignal,
  ): Promise<readonly HistoricalCandle[]>;
  /** Closed candles with open time within [from, to], oldest first; the first `limit` of them when given. */
  closedBetween(
    stream: StreamDescriptor,
    fromOpenTimeMs: number,
    toOpenTimeMs: number,
    signal: AbortSignal,
    limit?: number,
  ): Promise<readonly HistoricalCandle[]>;
  /** Trades of a trade stream with id within [fromId, toId], ascending. */
  tradesBetween(
    stream: StreamDescriptor,
    fromId: number,
    toId: number,
    signal: AbortSignal,
  ): Promise<readonly HistoricalTrade[]>;
}
