import { type Candle, type ExchangeId, isInterval, type Trade } from '@visualgo/market';
import type { KlineData } from './gen/trade.js';
import type {
  Candle as ProtoCandle,
  FeedStatus as ProtoFeedStatus,
  Trade as ProtoTrade,
} from './gen/visualgo/v1/market_data.js';

/** Raised when a message from the wire cannot become a domain value. */
export class ProtoConversionError extends Error {
  override readonly name = 'ProtoConversionError';
}

/*
 * int64 fields are generated as bigint (ts-proto `forceLong=bigint`), so every value on the wire
 * decodes, including INT64_MAX and INT64_MIN; whoever reads one decides what an out-of-range
 * value means, here and in the services' request validation.
 */

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** A domain integer (times, ids, counts: always safe integers) as an int64 field. */
export function toInt64(value: number): bigint {
  return BigInt(Math.trunc(value));
}

/** An int64 field that must hold a safe integer, such as a time or an id in a response. */
export function fromInt64(value: bigint, field: string): number {
  if (value > MAX_SAFE || value < MIN_SAFE) {
    throw new ProtoConversionError(`${field} ${value} is outside the safe integer range`);
  }
  return Number(value);
}

/**
 * An int64 request bound (a time in ms) as a number: exact within ±(2^53 − 1), clamped beyond.
 * No candle or trade has a time past 2^53 ms (the year 285 428), so a larger bound, up to
 * INT64_MAX, means the same as no bound at all; the sign is kept for validation to refuse.
 */
export function int64Bound(value: bigint): number {
  if (value > MAX_SAFE) return Number.MAX_SAFE_INTEGER;
  if (value < MIN_SAFE) return Number.MIN_SAFE_INTEGER;
  return Number(value);
}

export function candleToProto(c: Candle, stream: string): ProtoCandle {
  return {
    exchange: c.exchange,
    symbol: c.symbol,
    interval: c.interval,
    openTimeMs: toInt64(c.openTimeMs),
    closeTimeMs: toInt64(c.closeTimeMs),
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    quoteVolume: c.quoteVolume,
    takerBuyVolume: c.takerBuyVolume,
    takerBuyQuoteVolume: c.takerBuyQuoteVolume,
    trades: toInt64(c.trades),
    closed: c.closed,
    eventTimeMs: toInt64(c.eventTimeMs),
    receivedTimeMs: toInt64(c.receivedTimeMs),
    stream,
    firstTradeId: toInt64(c.firstTradeId),
    lastTradeId: toInt64(c.lastTradeId),
  };
}

function exchangeOf(value: string): ExchangeId {
  if (value === 'binance' || value === 'binance-sim') return value;
  throw new ProtoConversionError(`unknown exchange "${value.slice(0, 40)}"`);
}

export function candleFromProto(p: ProtoCandle): Candle {
  if (!isInterval(p.interval))
    throw new ProtoConversionError(`unknown interval "${p.interval.slice(0, 40)}"`);
  return {
    type: 'candle',
    exchange: exchangeOf(p.exchange),
    symbol: p.symbol,
    interval: p.interval,
    openTimeMs: fromInt64(p.openTimeMs, 'open_time_ms'),
    closeTimeMs: fromInt64(p.closeTimeMs, 'close_time_ms'),
    open: p.open,
    high: p.high,
    low: p.low,
    close: p.close,
    volume: p.volume,
    quoteVolume: p.quoteVolume,
    takerBuyVolume: p.takerBuyVolume,
    takerBuyQuoteVolume: p.takerBuyQuoteVolume,
    trades: fromInt64(p.trades, 'trades'),
    firstTradeId: fromInt64(p.firstTradeId, 'first_trade_id'),
    lastTradeId: fromInt64(p.lastTradeId, 'last_trade_id'),
    closed: p.closed,
    eventTimeMs: fromInt64(p.eventTimeMs, 'event_time_ms'),
    receivedTimeMs: fromInt64(p.receivedTimeMs, 'received_time_ms'),
  };
}

export function tradeToProto(t: Trade, stream: string): ProtoTrade {
  return {
    exchange: t.exchange,
    symbol: t.symbol,
    tradeId: toInt64(t.tradeId),
    price: t.price,
    quantity: t.quantity,
    tradeTimeMs: toInt64(t.tradeTimeMs),
    buyerIsMaker: t.buyerIsMaker,
    eventTimeMs: toInt64(t.eventTimeMs),
    receivedTimeMs: toInt64(t.receivedTimeMs),
    stream,
  };
}

/** The numeric fields of a `FeedStatus`, as safe numbers (0 for an unset or out-of-range one). */
export interface FeedStatusNumbers {
  readonly fromOpenTimeMs: number;
  readonly toOpenTimeMs: number;
  readonly fromTradeId: number;
  readonly toTradeId: number;
  readonly timeMs: number;
}

export function feedStatusNumbers(p: ProtoFeedStatus): FeedStatusNumbers {
  const safe = (v: bigint) => (v > MAX_SAFE || v < MIN_SAFE ? 0 : Number(v));
  return {
    fromOpenTimeMs: safe(p.fromOpenTimeMs),
    toOpenTimeMs: safe(p.toOpenTimeMs),
    fromTradeId: safe(p.fromTradeId),
    toTradeId: safe(p.toTradeId),
    timeMs: safe(p.timeMs),
  };
}

/** The seed's `KlineData` message (proto/trade.proto). */
export function candleToKlineData(c: Candle): KlineData {
  return {
    symbol: c.symbol,
    openTime: toInt64(c.openTimeMs),
    closeTime: toInt64(c.closeTimeMs),
    openPrice: c.open,
    closePrice: c.close,
    highPrice: c.high,
    lowPrice: c.low,
    volume: c.volume,
    // int32 on the wire; a candle's trade count stays far below 2^31.
    numTrades: Math.min(c.trades, 2_147_483_647),
    isKlineClosed: c.closed,
  };
}
