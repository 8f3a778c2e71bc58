import type {
  BinanceAggTradeEvent,
  BinanceHistoricalTrade,
  BinanceKline,
  BinanceKlineEvent,
  BinanceKlineRow,
  BinanceTradeEvent,
} from '@visualgo/contracts';
import type { Candle, Trade } from '@visualgo/market';
import type { CandleTotals } from './candle-aggregator.js';
import type { SimCandle } from './candle-history.js';
import { formatScaled } from './fixed-point.js';
import type { SimTrade } from './market-model.js';
import type { DecimalStrings, MarketCandle, SymbolFormat } from './market-source.js';

/**
 * Binance's wire shapes built from the model's exact integers. Field order follows Binance's
 * documented examples so frames look the same byte for byte, not only field for field.
 */

export function candleDecimals(spec: SymbolFormat, t: CandleTotals): DecimalStrings {
  const quoteScale = spec.tickDecimals + spec.lotDecimals;
  return {
    open: formatScaled(t.openTicks, spec.tickDecimals),
    high: formatScaled(t.highTicks, spec.tickDecimals),
    low: formatScaled(t.lowTicks, spec.tickDecimals),
    close: formatScaled(t.closeTicks, spec.tickDecimals),
    volume: formatScaled(t.volumeLots, spec.lotDecimals),
    quoteVolume: formatScaled(t.quoteUnits, quoteScale),
    takerBuyVolume: formatScaled(t.takerBuyLots, spec.lotDecimals),
    takerBuyQuoteVolume: formatScaled(t.takerBuyQuoteUnits, quoteScale),
  };
}

/** A model candle (exact totals) as a wire-ready candle. */
export function marketCandle(spec: SymbolFormat, candle: SimCandle): MarketCandle {
  return {
    symbol: spec.symbol,
    interval: candle.interval,
    openTimeMs: candle.openTimeMs,
    closeTimeMs: candle.closeTimeMs,
    values: candleDecimals(spec, candle.totals),
    trades: candle.totals.trades,
    firstTradeId: candle.totals.firstTradeId,
    lastTradeId: candle.totals.lastTradeId,
    closed: candle.closed,
  };
}

export function klinePayload(candle: MarketCandle): BinanceKline {
  const d = candle.values;
  return {
    t: candle.openTimeMs,
    T: candle.closeTimeMs,
    s: candle.symbol,
    i: candle.interval,
    f: candle.firstTradeId,
    L: candle.lastTradeId,
    o: d.open,
    c: d.close,
    h: d.high,
    l: d.low,
    v: d.volume,
    n: candle.trades,
    x: candle.closed,
    q: d.quoteVolume,
    V: d.takerBuyVolume,
    Q: d.takerBuyQuoteVolume,
    B: '0',
  };
}

export function klineEvent(candle: MarketCandle, eventTimeMs: number): BinanceKlineEvent {
  return { e: 'kline', E: eventTimeMs, s: candle.symbol, k: klinePayload(candle) };
}

export function tradeEvent(spec: SymbolFormat, trade: SimTrade): BinanceTradeEvent {
  return {
    e: 'trade',
    E: trade.timeMs,
    s: spec.symbol,
    t: trade.tradeId,
    p: formatScaled(trade.priceTicks, spec.tickDecimals),
    q: formatScaled(trade.qtyLots, spec.lotDecimals),
    T: trade.timeMs,
    m: trade.buyerIsMaker,
    M: true,
  };
}

/** An aggregate trade: the fills of one taker order (same time, price and side). */
export function aggTradeEvent(spec: SymbolFormat, fills: readonly SimTrade[]): BinanceAggTradeEvent {
  const first = fills[0];
  const last = fills[fills.length - 1];
  if (!first || !last) throw new RangeError('an aggregate trade needs at least one fill');
  let lots = 0;
  for (const fill of fills) lots += fill.qtyLots;
  return {
    e: 'aggTrade',
    E: last.timeMs,
    s: spec.symbol,
    a: first.aggId,
    p: formatScaled(first.priceTicks, spec.tickDecimals),
    q: formatScaled(lots, spec.lotDecimals),
    f: first.tradeId,
    l: last.tradeId,
    T: first.timeMs,
    m: first.buyerIsMaker,
    M: true,
  };
}

/** A trade as `GET /api/v3/trades` and `GET /api/v3/historicalTrades` list it. */
export function historicalTrade(spec: SymbolFormat, trade: SimTrade): BinanceHistoricalTrade {
  return {
    id: trade.tradeId,
    price: formatScaled(trade.priceTicks, spec.tickDecimals),
    qty: formatScaled(trade.qtyLots, spec.lotDecimals),
    quoteQty: formatScaled(
      BigInt(trade.priceTicks) * BigInt(trade.qtyLots),
      spec.tickDecimals + spec.lotDecimals,
    ),
    time: trade.timeMs,
    isBuyerMaker: trade.buyerIsMaker,
    isBestMatch: true,
  };
}

export function klineRow(candle: MarketCandle): BinanceKlineRow {
  const d = candle.values;
  return [
    candle.openTimeMs,
    d.open,
    d.high,
    d.low,
    d.close,
    d.volume,
    candle.closeTimeMs,
    d.quoteVolume,
    candle.trades,
    d.takerBuyVolume,
    d.takerBuyQuoteVolume,
    '0',
  ];
}

/**
 * The domain candle a correct client would build from this kline: numbers parsed from the
 * same decimal strings Binance sends. Ground truth has no receive time; it is the event time.
 */
export function domainCandle(candle: MarketCandle, eventTimeMs: number): Candle {
  const d = candle.values;
  return {
    type: 'candle',
    exchange: 'binance-sim',
    symbol: candle.symbol,
    interval: candle.interval,
    openTimeMs: candle.openTimeMs,
    closeTimeMs: candle.closeTimeMs,
    open: Number(d.open),
    high: Number(d.high),
    low: Number(d.low),
    close: Number(d.close),
    volume: Number(d.volume),
    quoteVolume: Number(d.quoteVolume),
    takerBuyVolume: Number(d.takerBuyVolume),
    takerBuyQuoteVolume: Number(d.takerBuyQuoteVolume),
    trades: candle.trades,
    firstTradeId: candle.firstTradeId,
    lastTradeId: candle.lastTradeId,
    closed: candle.closed,
    eventTimeMs,
    receivedTimeMs: eventTimeMs,
  };
}

export function domainTrade(spec: SymbolFormat, trade: SimTrade): Trade {
  return {
    type: 'trade',
    exchange: 'binance-sim',
    symbol: spec.symbol,
    tradeId: trade.tradeId,
    price: Number(formatScaled(trade.priceTicks, spec.tickDecimals)),
    quantity: Number(formatScaled(trade.qtyLots, spec.lotDecimals)),
    tradeTimeMs: trade.timeMs,
    buyerIsMaker: trade.buyerIsMaker,
    eventTimeMs: trade.timeMs,
    receivedTimeMs: trade.timeMs,
  };
}
