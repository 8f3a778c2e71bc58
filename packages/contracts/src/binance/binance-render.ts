/**
 * Binance Spot's wire shapes rendered from domain values, for the edges that speak Binance's
 * protocol to clients (data-ingest's `/ws`, `/ws/<stream>`, `/stream` and `GET /api/v3/klines`).
 * Keys come in the order Binance sends them, so frames match Binance's byte for byte, not only
 * field for field; the text is built directly rather than through `JSON.stringify` of an object.
 */
import type { Candle, Trade } from '@visualgo/market';
import type { BinanceKlineRow } from './binance-messages.js';

const DECIMALS = 8;
/** `toFixed` turns to exponent notation from 1e21 on. */
const FIXED_LIMIT = 1e21;

/**
 * A price or quantity as Binance Spot sends it for the pairs served here: a decimal string with
 * exactly 8 places (`"1983.55000000"`). Candles and trades hold doubles parsed from such strings;
 * rounding the double to 8 places gives the string back exactly for every value below 2^26
 * (67,108,864), where a double resolves 8 decimals. Above that (the quote volume of a long
 * interval of a busy pair) the last place may differ; the value it parses to does not.
 */
export function binanceDecimal(value: number): string {
  if (Math.abs(value) < FIXED_LIMIT) return value.toFixed(DECIMALS);
  return `${BigInt(Math.round(value)).toString()}.${'0'.repeat(DECIMALS)}`;
}

/**
 * A kline stream event (`<symbol>@kline_<interval>`) for a candle state:
 * `{"e":"kline","E":…,"s":…,"k":{"t","T","s","i","f","L","o","c","h","l","v","n","x","q","V","Q","B"}}`.
 * `E` is the candle's event time; `B` is Binance's unused field, always `"0"`.
 */
export function binanceKlineEventJson(c: Candle): string {
  const s = JSON.stringify(c.symbol);
  return (
    `{"e":"kline","E":${c.eventTimeMs},"s":${s},"k":{"t":${c.openTimeMs},"T":${c.closeTimeMs},` +
    `"s":${s},"i":${JSON.stringify(c.interval)},"f":${c.firstTradeId},"L":${c.lastTradeId},` +
    `"o":"${binanceDecimal(c.open)}","c":"${binanceDecimal(c.close)}","h":"${binanceDecimal(c.high)}",` +
    `"l":"${binanceDecimal(c.low)}","v":"${binanceDecimal(c.volume)}","n":${c.trades},"x":${c.closed},` +
    `"q":"${binanceDecimal(c.quoteVolume)}","V":"${binanceDecimal(c.takerBuyVolume)}",` +
    `"Q":"${binanceDecimal(c.takerBuyQuoteVolume)}","B":"0"}}`
  );
}

/**
 * A trade stream event (`<symbol>@trade`):
 * `{"e":"trade","E":…,"s":…,"t":…,"p":…,"q":…,"T":…,"m":…,"M":true}`. `M` is Binance's unused
 * field, always true; the buyer and seller order ids that older documentation shows are no longer sent.
 */
export function binanceTradeEventJson(t: Trade): string {
  return (
    `{"e":"trade","E":${t.eventTimeMs},"s":${JSON.stringify(t.symbol)},"t":${t.tradeId},` +
    `"p":"${binanceDecimal(t.price)}","q":"${binanceDecimal(t.quantity)}","T":${t.tradeTimeMs},` +
    `"m":${t.buyerIsMaker},"M":true}`
  );
}

/** A combined-stream frame (`/stream?streams=…`): `{"stream":"<name>","data":<event>}`. */
export function binanceCombinedJson(stream: string, dataJson: string): string {
  return `{"stream":${JSON.stringify(stream)},"data":${dataJson}}`;
}

/** One `GET /api/v3/klines` row: Binance's 12 fields, decimals as strings, the last one unused ("0"). */
export function toBinanceKlineRow(c: Candle): BinanceKlineRow {
  return [
    c.openTimeMs,
    binanceDecimal(c.open),
    binanceDecimal(c.high),
    binanceDecimal(c.low),
    binanceDecimal(c.close),
    binanceDecimal(c.volume),
    c.closeTimeMs,
    binanceDecimal(c.quoteVolume),
    c.trades,
    binanceDecimal(c.takerBuyVolume),
    binanceDecimal(c.takerBuyQuoteVolume),
    '0',
  ];
}
