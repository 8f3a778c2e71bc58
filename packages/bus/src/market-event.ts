import {
  type Candle,
  candleIndexOf,
  type Interval,
  openTimeOfCandleIndex,
  parseStreamName,
  type Trade,
} from '@visualgo/market';

/**
 * The stream name of status events that concern the whole feed (the exchange connection) rather
 * than one stream.
 */
export const FEED_STREAM = '';

export type FeedStatusKind = 'connected' | 'disconnected' | 'gap-detected' | 'gap-filled' | 'gap-unfilled';

/** What a producer reports about its feed: connection changes, and gaps found and filled (or not). */
export interface FeedStatus {
  readonly kind: FeedStatusKind;
  /** For gaps of a kline stream: the open times of the first and last missing candle. */
  readonly fromOpenTimeMs?: number;
  readonly toOpenTimeMs?: number;
  /** For gaps of a trade stream: the missing trade ids. */
  readonly fromTradeId?: number;
  readonly toTradeId?: number;
  readonly detail?: string;
  /** gap-unfilled: the exchange may hold what is missing but did not serve it (a hole in the data). */
  readonly lost?: boolean;
  /** Local time of the report. */
  readonly timeMs: number;
  /**
   * The producer that reported it, on a bus with several producers of a stream (`data-ingest-0`):
   * subscribers merge the producers' reports into one feed status (see `StatusMerge`).
   */
  readonly source?: string;
}

/**
 * A candle state of a kline stream: an open candle's latest update, or a closed candle's final
 * state (published exactly once per stream, in `seq` order).
 */
export interface CandleEvent {
  readonly type: 'candle';
  /** The stream name (`btcusdt@kline_1m`): the text form of its `StreamId`. */
  readonly stream: string;
  /** {@link candleSeq}: the same for every update of one candle, unique among closed ones. */
  readonly seq: number;
  readonly candle: Candle;
}

export interface TradeEvent {
  readonly type: 'trade';
  readonly stream: string;
  /** {@link tradeSeq}: the exchange's trade id. */
  readonly seq: number;
  readonly trade: Trade;
}

export interface StatusEvent {
  readonly type: 'status';
  /** The stream it concerns, or {@link FEED_STREAM} for the whole feed. */
  readonly stream: string;
  /** {@link statusSeq}: where in the stream it applies; 0 when it names no position. */
  readonly seq: number;
  readonly status: FeedStatus;
}

/**
 * What travels on the bus: typed, serialisable (plain data, no classes), exchange-neutral. An
 * exchange's wire format ends at its adapter; an edge that speaks one renders it again.
 */
export type MarketEvent = CandleEvent | TradeEvent | StatusEvent;
export type MarketEventType = MarketEvent['type'];

/**
 * Sequence numbers are positions in the market's own numbering, so they are a function of the
 * market data alone: the same in every process, across restarts of producers and of the bus, and
 * for two producers of the same stream (which is what lets a durable bus drop the second copy).
 *
 * A candle's seq is its index on its interval's grid (`candleIndexOf`: whole intervals since the
 * epoch, Monday-aligned weeks, calendar months). Consecutive candles have consecutive seqs; a jump
 * is a stretch where the market has no candle (an exchange outage), or a hole reported as
 * `gap-unfilled` before the candles that follow it.
 */
export function candleSeq(candle: Pick<Candle, 'interval' | 'openTimeMs'>): number {
  return candleIndexOf(candle.interval, candle.openTimeMs);
}

/** Open time of the candle with seq `seq` on `interval`'s grid (the inverse of {@link candleSeq}). */
export function openTimeOfSeq(interval: Interval, seq: number): number {
  return openTimeOfCandleIndex(interval, seq);
}

/** A trade's seq is its exchange trade id: consecutive per symbol on Binance, so a jump is a gap. */
export function tradeSeq(trade: Pick<Trade, 'tradeId'>): number {
  return trade.tradeId;
}

/**
 * A status event's seq is the seq of the first event it concerns: the first missing candle or
 * trade of a gap. Connection changes name no position (0).
 */
export function statusSeq(stream: string, status: FeedStatus): number {
  if (status.fromTradeId !== undefined) return status.fromTradeId;
  if (status.fromOpenTimeMs === undefined) return 0;
  const id = parseStreamName(stream);
  return id?.kind === 'kline' ? candleIndexOf(id.interval, status.fromOpenTimeMs) : 0;
}

export function candleEvent(stream: string, candle: Candle): CandleEvent {
  return { type: 'candle', stream, seq: candleSeq(candle), candle };
}

export function tradeEvent(stream: string, trade: Trade): TradeEvent {
  return { type: 'trade', stream, seq: tradeSeq(trade), trade };
}

export function statusEvent(stream: string, status: FeedStatus): StatusEvent {
  return { type: 'status', stream, seq: statusSeq(stream, status), status };
}
