/**
 * Pure mapping between Binance Spot wire payloads (already validated by the schemas in
 * `@visualgo/contracts`) and the domain `Candle` / `Trade`. No I/O, no clock: receive times are
 * passed in. Failures are results, never throws.
 */
import type {
  BinanceHistoricalTrade,
  BinanceKlineEvent,
  BinanceKlineRow,
  BinanceTradeEvent,
} from '@visualgo/contracts';
import { type Candle, type ExchangeId, type Interval, isInterval, type Trade } from '@visualgo/market';

export type MapResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

function ok<T>(value: T): MapResult<T> {
  return { ok: true, value };
}

function fail<T>(reason: string): MapResult<T> {
  return { ok: false, reason };
}

/** Validates a Binance interval string (`1m`, `1M`, ...); case sensitive, as Binance is. */
export function parseInterval(value: string): MapResult<Interval> {
  return isInterval(value) ? ok(value) : fail(`unknown interval ${JSON.stringify(value)}`);
}

interface Decimals {
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly quoteVolume: number;
  readonly takerBuyVolume: number;
  readonly takerBuyQuoteVolume: number;
}

/** The fields of {@link Decimals}, in the order a non-finite one is reported. */
const DECIMAL_FIELDS = [
  'open',
  'high',
  'low',
  'close',
  'volume',
  'quoteVolume',
  'takerBuyVolume',
  'takerBuyQuoteVolume',
] as const satisfies readonly (keyof Decimals)[];

/**
 * The first field of `values` (in {@link DECIMAL_FIELDS} order) that is not a finite number.
 * Decimal strings were checked by the schema; this only rejects values too large for a double
 * (hundreds of digits), so a parse failure can never become 0 or Infinity downstream.
 */
function firstNonFinite(values: Decimals): keyof Decimals | undefined {
  // A loop, not `Object.entries`: this runs for every kline event.
  for (const key of DECIMAL_FIELDS) if (!Number.isFinite(values[key])) return key;
  return undefined;
}

function decimals(raw: Readonly<Record<keyof Decimals, string>>): MapResult<Decimals> {
  const values: Decimals = {
    open: Number(raw.open),
    high: Number(raw.high),
    low: Number(raw.low),
    close: Number(raw.close),
    volume: Number(raw.volume),
    quoteVolume: Number(raw.quoteVolume),
    takerBuyVolume: Number(raw.takerBuyVolume),
    takerBuyQuoteVolume: Number(raw.takerBuyQuoteVolume),
  };
  const bad = firstNonFinite(values);
  if (bad !== undefined) return fail(`${bad} is not a finite number`);
  return ok(values);
}

/** Which of a trade's price and quantity is not a finite number, if either (as above). */
function nonFinitePriceOrQuantity(price: number, quantity: number): 'price' | 'quantity' | undefined {
  if (!Number.isFinite(price)) return 'price';
  if (!Number.isFinite(quantity)) return 'quantity';
  return undefined;
}

/** A kline stream event → the candle state it carries. `eventTimeMs` is the event's `E`. */
export function klineEventToCandle(
  event: BinanceKlineEvent,
  exchange: ExchangeId,
  receivedTimeMs: number,
): MapResult<Candle> {
  const k = event.k;
  const interval = parseInterval(k.i);
  if (!interval.ok) return interval;
  const d = decimals({
    open: k.o,
    high: k.h,
    low: k.l,
    close: k.c,
    volume: k.v,
    quoteVolume: k.q,
    takerBuyVolume: k.V,
    takerBuyQuoteVolume: k.Q,
  });
  if (!d.ok) return d;
  return ok({
    type: 'candle',
    exchange,
    symbol: k.s,
    interval: interval.value,
    openTimeMs: k.t,
    closeTimeMs: k.T,
    ...d.value,
    trades: k.n,
    firstTradeId: k.f,
    lastTradeId: k.L,
    closed: k.x,
    eventTimeMs: event.E,
    receivedTimeMs,
  });
}

/** A trade stream event → the domain trade. */
export function tradeEventToTrade(
  event: BinanceTradeEvent,
  exchange: ExchangeId,
  receivedTimeMs: number,
): MapResult<Trade> {
  const price = Number(event.p);
  const quantity = Number(event.q);
  const bad = nonFinitePriceOrQuantity(price, quantity);
  if (bad !== undefined) return fail(`${bad} is not a finite number`);
  return ok({
    type: 'trade',
    exchange,
    symbol: event.s,
    tradeId: event.t,
    price,
    quantity,
    tradeTimeMs: event.T,
    buyerIsMaker: event.m,
    eventTimeMs: event.E,
    receivedTimeMs,
  });
}

/**
 * A trade from `GET /api/v3/historicalTrades` → the domain trade. The REST answer has no event
 * time; the trade time stands in for it.
 */
export function historicalTradeToTrade(
  row: BinanceHistoricalTrade,
  symbol: string,
  exchange: ExchangeId,
  receivedTimeMs: number,
): MapResult<Trade> {
  const price = Number(row.price);
  const quantity = Number(row.qty);
  const bad = nonFinitePriceOrQuantity(price, quantity);
  if (bad !== undefined) return fail(`${bad} is not a finite number`);
  return ok({
    type: 'trade',
    exchange,
    symbol: symbol.toUpperCase(),
    tradeId: row.id,
    price,
    quantity,
    tradeTimeMs: row.time,
    buyerIsMaker: row.isBuyerMaker,
    eventTimeMs: row.time,
    receivedTimeMs,
  });
}

export interface KlineRowContext {
  readonly exchange: ExchangeId;
  /** Upper case, as Binance reports it. REST rows do not carry the symbol. */
  readonly symbol: string;
  readonly interval: Interval;
  readonly receivedTimeMs: number;
}

/**
 * The event time given to candles rebuilt from REST rows: one millisecond after the close, i.e.
 * the earliest instant at which Binance could have published the final state. REST rows carry no
 * event time of their own.
 */
export function restEventTimeMs(row: BinanceKlineRow): number {
  return row[6] + 1;
}

/**
 * A `GET /api/v3/klines` row → a closed candle. REST rows carry no trade ids, so first/last trade
 * id are -1; `eventTimeMs` is {@link restEventTimeMs}. Only pass rows of candles that have closed
 * (open time + interval ≤ server time): Binance also returns the still-open candle.
 */
export function klineRowToCandle(row: BinanceKlineRow, context: KlineRowContext): MapResult<Candle> {
  const [openTimeMs, o, h, l, c, v, closeTimeMs, q, n, V, Q] = row;
  const d = decimals({
    open: o,
    high: h,
    low: l,
    close: c,
    volume: v,
    quoteVolume: q,
    takerBuyVolume: V,
    takerBuyQuoteVolume: Q,
  });
  if (!d.ok) return d;
  return ok({
    type: 'candle',
    exchange: context.exchange,
    symbol: context.symbol,
    interval: context.interval,
    openTimeMs,
    closeTimeMs,
    ...d.value,
    trades: n,
    firstTradeId: -1,
    lastTradeId: -1,
    closed: true,
    eventTimeMs: restEventTimeMs(row),
    receivedTimeMs: context.receivedTimeMs,
  });
}
