/**
 * The trade and kline events of Binance's streams checked field by field, for the per-message
 * path of a consumer (thousands of events a second). Each reader accepts only what its zod schema
 * (`binanceTradeEvent`, `binanceKlineEvent`) accepts and returns what the schema's parse returns: a
 * new object of the schema's fields, in its order, unknown fields left out. Anything else gives
 * null, and the caller asks the schema, which rejects it with its error (or accepts what these
 * readers are too strict for). `binance-event-read.test.ts` holds the two to the same answers.
 */
import type { BinanceKline, BinanceKlineEvent, BinanceTradeEvent } from './binance-messages.js';

/** `decimalString`'s pattern. */
const DECIMAL = /^\d+(\.\d+)?$/;

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `z.number().int().nonnegative()`. */
function isTimeMs(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** `z.number().int()`. */
function isTradeId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function isDecimal(v: unknown): v is string {
  return typeof v === 'string' && DECIMAL.test(v);
}

function isSymbol(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** A trade event as `binanceTradeEvent.parse` returns it, or null when it is not certainly valid. */
export function readTradeEvent(v: Fields): BinanceTradeEvent | null {
  const { e, E, s, t, p, q, T, m, M } = v;
  if (
    e !== 'trade' ||
    !isTimeMs(E) ||
    !isSymbol(s) ||
    !isTradeId(t) ||
    !isDecimal(p) ||
    !isDecimal(q) ||
    !isTimeMs(T) ||
    typeof m !== 'boolean' ||
    typeof M !== 'boolean'
  )
    return null;
  return { e, E, s, t, p, q, T, m, M };
}

function readKline(v: unknown): BinanceKline | null {
  if (!isFields(v)) return null;
  const { t, T, s, i, f, L, o, c, h, l, v: volume, n, x, q, V, Q, B } = v;
  if (
    !isTimeMs(t) ||
    !isTimeMs(T) ||
    !isSymbol(s) ||
    typeof i !== 'string' ||
    i.length === 0 ||
    !isTradeId(f) ||
    !isTradeId(L) ||
    !isDecimal(o) ||
    !isDecimal(c) ||
    !isDecimal(h) ||
    !isDecimal(l) ||
    !isDecimal(volume) ||
    !isTimeMs(n) ||
    typeof x !== 'boolean' ||
    !isDecimal(q) ||
    !isDecimal(V) ||
    !isDecimal(Q) ||
    typeof B !== 'string'
  )
    return null;
  return { t, T, s, i, f, L, o, c, h, l, v: volume, n, x, q, V, Q, B };
}

/** A kline event as `binanceKlineEvent.parse` returns it, or null when it is not certainly valid. */
export function readKlineEvent(v: Fields): BinanceKlineEvent | null {
  const { e, E, s } = v;
  if (e !== 'kline' || !isTimeMs(E) || !isSymbol(s)) return null;
  const k = readKline(v.k);
  return k === null ? null : { e, E, s, k };
}
