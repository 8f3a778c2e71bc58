import { type CandleEvent, type TradeEvent, WireForm } from '@visualgo/bus';
import { binanceCombinedJson, binanceKlineEventJson, binanceTradeEventJson } from '@visualgo/contracts';

/**
 * The Binance wire forms of bus events, rendered by this edge from the exchange-neutral event and
 * kept on it: the raw event (`/ws`, `/ws/<stream>`) and the combined-stream frame (`/stream`).
 */
export const binanceEventText = new WireForm<CandleEvent | TradeEvent, string>('binance-event', (e) =>
  e.type === 'candle' ? binanceKlineEventJson(e.candle) : binanceTradeEventJson(e.trade),
);

export const binanceCombinedText = new WireForm<CandleEvent | TradeEvent, string>('binance-combined', (e) =>
  binanceCombinedJson(e.stream, binanceEventText.of(e)),
);
