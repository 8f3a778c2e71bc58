import { type Candle, type ExchangeId, isInterval, type Trade } from '@visualgo/market';
import type { KlineData } from './gen/trade.js';
import type { Candle as ProtoCandle, Trade as ProtoTrade } from './gen/visualgo/v1/market_data.js';

/** Raised when a message from the wire cannot become a domain value. */
export class ProtoConversionError extends Error {
  override readonly name = 'ProtoConversionError';
}

export function candleToProto(c: Candle, stream: string): ProtoCandle {
  return {
    exchange: c.exchange,
    symbol: c.symbol,
    interval: c.interval,
    openTimeMs: c.openTimeMs,
    closeTimeMs: c.closeTimeMs,
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    quoteVolume: c.quoteVolume,
    takerBuyVolume: c.takerBuyVolume,
    takerBuyQuoteVolume: c.takerBuyQuoteVolume,
    trades: c.trades,
    closed: c.closed,
    eventTimeMs: c.eventTimeMs,
    receivedTimeMs: c.receivedTimeMs,
    stream,
    firstTradeId: c.firstTradeId,
    lastTradeId: c.lastTradeId,
  };
}

function exchangeOf(value: string): ExchangeId {
  if (value === 'binance' || value === 'binance-sim') return value;
  throw new ProtoConversionError(`unknown exchange "${value}"`);
}

export function candleFromProto(p: ProtoCandle): Candle {
  if (!isInterval(p.interval)) throw new ProtoConversionError(`unknown interval "${p.interval}"`);
  return {
    type: 'candle',
    exchange: exchangeOf(p.exchange),
    symbol: p.symbol,
    interval: p.interval,
    openTimeMs: p.openTimeMs,
    closeTimeMs: p.closeTimeMs,
    open: p.open,
    high: p.high,
    low: p.low,
    close: p.close,
    volume: p.volume,
    quoteVolume: p.quoteVolume,
    takerBuyVolume: p.takerBuyVolume,
    takerBuyQuoteVolume: p.takerBuyQuoteVolume,
    trades: p.trades,
    firstTradeId: p.firstTradeId,
    lastTradeId: p.lastTradeId,
    closed: p.closed,
    eventTimeMs: p.eventTimeMs,
    receivedTimeMs: p.receivedTimeMs,
  };
}

export function tradeToProto(t: Trade, stream: string): ProtoTrade {
  return {
    exchange: t.exchange,
    symbol: t.symbol,
    tradeId: t.tradeId,
    price: t.price,
    quantity: t.quantity,
    tradeTimeMs: t.tradeTimeMs,
    buyerIsMaker: t.buyerIsMaker,
    eventTimeMs: t.eventTimeMs,
    receivedTimeMs: t.receivedTimeMs,
    stream,
  };
}

/** The seed's `KlineData` message (proto/trade.proto). */
export function candleToKlineData(c: Candle): KlineData {
  return {
    symbol: c.symbol,
    openTime: c.openTimeMs,
    closeTime: c.closeTimeMs,
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
