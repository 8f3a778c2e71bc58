import type { Candle } from '@visualgo/market';
import type { StreamDescriptor } from './market-hub.js';

/** A closed candle from history, with the Binance event payload to send WebSocket clients for it. */
export interface HistoricalCandle {
  readonly candle: Candle;
  readonly payload: unknown;
}

/** Where the hub gets candles it did not see live: the exchange's REST API. */
export interface HistorySource {
  /** The last `count` closed candles of a kline stream, oldest first. */
  latestClosed(
    stream: StreamDescriptor,
    count: number,
    signal: AbortSignal,
  ): Promise<readonly HistoricalCandle[]>;
  /** Closed candles with open time within [from, to], oldest first. */
  closedBetween(
    stream: StreamDescriptor,
    fromOpenTimeMs: number,
    toOpenTimeMs: number,
    signal: AbortSignal,
  ): Promise<readonly HistoricalCandle[]>;
}
