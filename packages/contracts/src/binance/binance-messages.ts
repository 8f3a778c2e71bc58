/**
 * Binance Spot public market-data wire formats (WebSocket streams and REST klines), as zod
 * schemas. Both sides of the project use them: the simulated exchange produces these frames
 * (and checks its output against them in tests), the ingest connector parses them.
 *
 * Prices and quantities travel as decimal strings; they are validated as finite, non-negative
 * decimals here so a parse failure can never become a price of 0 downstream.
 */
import { z } from 'zod';

/** A non-negative decimal string as Binance sends it ("0.00100000"). */
export const decimalString = z.string().regex(/^\d+(\.\d+)?$/, 'expected a non-negative decimal string');
const timeMs = z.number().int().nonnegative();
const tradeId = z.number().int();

/** Kline payload `k` of a kline event. */
export const binanceKline = z.object({
  t: timeMs, // kline start (open) time
  T: timeMs, // kline close time (last millisecond)
  s: z.string().min(1), // symbol
  i: z.string().min(1), // interval
  f: tradeId, // first trade id (-1 when no trade)
  L: tradeId, // last trade id (-1 when no trade)
  o: decimalString, // open price
  c: decimalString, // close price
  h: decimalString, // high price
  l: decimalString, // low price
  v: decimalString, // base asset volume
  n: z.number().int().nonnegative(), // number of trades
  x: z.boolean(), // is this kline closed?
  q: decimalString, // quote asset volume
  V: decimalString, // taker buy base asset volume
  Q: decimalString, // taker buy quote asset volume
  B: z.string(), // ignore
});
export type BinanceKline = z.infer<typeof binanceKline>;

export const binanceKlineEvent = z.object({
  e: z.literal('kline'), // event type
  E: timeMs, // event time
  s: z.string().min(1), // symbol
  k: binanceKline,
});
export type BinanceKlineEvent = z.infer<typeof binanceKlineEvent>;

export const binanceTradeEvent = z.object({
  e: z.literal('trade'),
  E: timeMs, // event time
  s: z.string().min(1), // symbol
  t: tradeId, // trade id
  p: decimalString, // price
  q: decimalString, // quantity
  T: timeMs, // trade time
  m: z.boolean(), // is the buyer the market maker?
  M: z.boolean(), // ignore
});
export type BinanceTradeEvent = z.infer<typeof binanceTradeEvent>;

export const binanceAggTradeEvent = z.object({
  e: z.literal('aggTrade'),
  E: timeMs, // event time
  s: z.string().min(1), // symbol
  a: tradeId, // aggregate trade id
  p: decimalString, // price
  q: decimalString, // quantity
  f: tradeId, // first trade id
  l: tradeId, // last trade id
  T: timeMs, // trade time
  m: z.boolean(), // is the buyer the market maker?
  M: z.boolean(), // ignore
});
export type BinanceAggTradeEvent = z.infer<typeof binanceAggTradeEvent>;

/** Sent on the market-data streams shortly before a planned server shutdown. */
export const binanceServerShutdownEvent = z.object({
  e: z.literal('serverShutdown'),
  E: timeMs,
});
export type BinanceServerShutdownEvent = z.infer<typeof binanceServerShutdownEvent>;

export const binanceStreamEvent = z.discriminatedUnion('e', [
  binanceKlineEvent,
  binanceTradeEvent,
  binanceAggTradeEvent,
  binanceServerShutdownEvent,
]);
export type BinanceStreamEvent = z.infer<typeof binanceStreamEvent>;

/** Combined-stream wrapper (`/stream?streams=...`). `data` is validated separately. */
export const binanceCombinedFrame = z.object({
  stream: z.string().min(1),
  data: z.unknown(),
});

export const binanceMethod = z.enum([
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'LIST_SUBSCRIPTIONS',
  'SET_PROPERTY',
  'GET_PROPERTY',
]);
export type BinanceMethod = z.infer<typeof binanceMethod>;

/** A live-subscription request a client sends on a stream connection. */
export const binanceMethodRequest = z.object({
  method: binanceMethod,
  params: z.array(z.union([z.string(), z.boolean()])).optional(),
  id: z.union([z.number().int().nonnegative(), z.string().max(36), z.null()]),
});
export type BinanceMethodRequest = z.infer<typeof binanceMethodRequest>;

/** Reply to a method request: `result` is null for (UN)SUBSCRIBE, the stream list for LIST_SUBSCRIPTIONS. */
export const binanceMethodResult = z.object({
  result: z.union([z.null(), z.array(z.string()), z.boolean()]),
  id: z.union([z.number(), z.string(), z.null()]),
});
export type BinanceMethodResult = z.infer<typeof binanceMethodResult>;

/** Error reply to a method request (code 0: unknown property, 1: bad value type, 2: invalid request, 3: invalid JSON). */
export const binanceMethodError = z.object({
  code: z.number().int(),
  msg: z.string(),
  id: z.union([z.number(), z.string(), z.null()]).optional(),
});
export type BinanceMethodError = z.infer<typeof binanceMethodError>;

/** Error reply as Binance's stream servers send it on the wire: `{"error":{"code":2,"msg":"..."},"id":1}`. */
export const binanceMethodErrorReply = z.object({
  error: binanceMethodError.omit({ id: true }),
  id: z.union([z.number(), z.string(), z.null()]),
});
export type BinanceMethodErrorReply = z.infer<typeof binanceMethodErrorReply>;

/**
 * One row of `GET /api/v3/klines`: open time, open, high, low, close, volume, close time,
 * quote volume, trade count, taker buy base volume, taker buy quote volume, ignore.
 */
export const binanceKlineRow = z.tuple([
  timeMs,
  decimalString,
  decimalString,
  decimalString,
  decimalString,
  decimalString,
  timeMs,
  decimalString,
  z.number().int().nonnegative(),
  decimalString,
  decimalString,
  z.string(),
]);
export type BinanceKlineRow = z.infer<typeof binanceKlineRow>;
export const binanceKlineRows = z.array(binanceKlineRow);

/** REST error body: `{"code":-1121,"msg":"Invalid symbol."}`. */
export const binanceRestError = z.object({ code: z.number().int(), msg: z.string() });
export type BinanceRestError = z.infer<typeof binanceRestError>;

export const binanceServerTime = z.object({ serverTime: timeMs });

/**
 * `GET /api/v3/exchangeInfo`: the fields this project reads are checked, every other field
 * (`rateLimits`, `exchangeFilters`, per-symbol permissions, ...) is kept as it came, so the answer
 * can be served on to Binance clients unchanged.
 */
export const binanceExchangeInfo = z.looseObject({
  timezone: z.string(),
  serverTime: timeMs,
  symbols: z.array(
    z
      .object({
        symbol: z.string(),
        status: z.string(),
        baseAsset: z.string(),
        quoteAsset: z.string(),
        baseAssetPrecision: z.number().int(),
        quoteAssetPrecision: z.number().int(),
        filters: z.array(z.object({ filterType: z.string() }).passthrough()),
      })
      .passthrough(),
  ),
});
export type BinanceExchangeInfo = z.infer<typeof binanceExchangeInfo>;

/**
 * One trade of `GET /api/v3/trades` (recent trades) and `GET /api/v3/historicalTrades` (old
 * trade lookup): the same trades as the `<symbol>@trade` stream, with the stream's single-letter
 * fields spelled out.
 */
export const binanceHistoricalTrade = z.object({
  id: tradeId, // trade id (the stream's `t`)
  price: decimalString, // price (`p`)
  qty: decimalString, // quantity in the base asset (`q`)
  quoteQty: decimalString, // price × quantity, in the quote asset
  time: timeMs, // trade time (`T`)
  isBuyerMaker: z.boolean(), // is the buyer the market maker, i.e. did the taker sell? (`m`)
  isBestMatch: z.boolean(), // ignore (`M`)
});
export type BinanceHistoricalTrade = z.infer<typeof binanceHistoricalTrade>;
/** The whole answer of both endpoints, ascending by id. */
export const binanceHistoricalTrades = z.array(binanceHistoricalTrade);
