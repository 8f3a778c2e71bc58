import type { Candle, KlineStreamId, Trade, TradeStreamId } from '@visualgo/market';

/** Where the hub gets candles and trades it did not see live: the exchange's REST API. */
export interface HistorySource {
  /** The last `count` closed candles of a kline stream, oldest first. */
  latestClosed(stream: KlineStreamId, count: number, signal: AbortSignal): Promise<readonly Candle[]>;
  /** Closed candles with open time within [from, to], oldest first; the first `limit` of them when given. */
  closedBetween(
    stream: KlineStreamId,
    fromOpenTimeMs: number,
    toOpenTimeMs: number,
    signal: AbortSignal,
    limit?: number,
  ): Promise<readonly Candle[]>;
  /** Trades of a trade stream with id within [fromId, toId], ascending. */
  tradesBetween(
    stream: TradeStreamId,
    fromId: number,
    toId: number,
    signal: AbortSignal,
  ): Promise<readonly Trade[]>;
}
