/**
 * A Binance trade event carrying its send time `us` (µs): `T` in whole milliseconds and the price
 * `1.<µs>`, so a reader gets latency to the microsecond; `id` consecutive per symbol.
 */
export function tradePayload(symbol: string, id: number, us: number): string {
  const ms = Math.floor(us / 1000);
  const frac = Math.floor(us - ms * 1000);
  return (
    `{"e":"trade","E":${ms},"s":"${symbol}","t":${id},"p":"1.${String(frac).padStart(3, '0')}",` +
    `"q":"0.5","T":${ms},"m":${(id & 1) === 0},"M":true}`
  );
}

/** What the benchmark reads from a trade frame (raw or combined) without parsing the JSON. */
export interface TradeMark {
  readonly symbol: string;
  readonly id: number;
  /** When the feeder sent it: `T` (ms) plus the price's fraction (`1.<µs>`), in µs. */
  readonly sentUs: number;
}

const SYMBOL = Buffer.from('"s":"');
const ID = Buffer.from('"t":');
const TIME = Buffer.from('"T":');
const PRICE = Buffer.from('"p":"1.');

function digitsAt(buf: Buffer, from: number): number {
  let v = 0;
  for (let i = from; i < buf.length; i++) {
    const c = buf[i] ?? 0;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** The marks of a trade frame, or null for any other frame (a method reply, a kline). */
export function readTrade(buf: Buffer): TradeMark | null {
  const s = buf.indexOf(SYMBOL);
  const t = buf.indexOf(ID);
  const T = buf.indexOf(TIME);
  const p = buf.indexOf(PRICE);
  if (s < 0 || t < 0 || T < 0 || p < 0) return null;
  const symbolStart = s + SYMBOL.length;
  const symbol = buf.toString('latin1', symbolStart, buf.indexOf(34, symbolStart));
  // The price renders as 1.xyz or 1.xyz00000: the first three digits are the microseconds.
  const fracStart = p + PRICE.length;
  const frac =
    (buf[fracStart] ?? 48) * 100 + (buf[fracStart + 1] ?? 48) * 10 + (buf[fracStart + 2] ?? 48) - 48 * 111;
  return { symbol, id: digitsAt(buf, t + ID.length), sentUs: digitsAt(buf, T + TIME.length) * 1000 + frac };
}

const INDICATOR = Buffer.from('"type":"indicator"');
const SNAPSHOT = Buffer.from('"type":"snapshot"');
const OPEN_CANDLE = Buffer.from('"final":false');
const CLOSE = Buffer.from('"close":');

/** What the benchmark reads from a trading-algo `indicator` message without parsing the JSON. */
export interface IndicatorMark {
  /** When the kline behind it was sent (µs), read from its `close` (see below). */
  readonly sentUs: number;
  /** A closed candle's point (the closing kline event), not an open candle's. */
  readonly final: boolean;
}

/** Whether a trading-algo message is a stream's `snapshot` (its `type` comes first). */
export function isSnapshot(buf: Buffer): boolean {
  return buf.compare(SNAPSHOT, 0, SNAPSHOT.length, 1, 1 + SNAPSHOT.length) === 0;
}

/**
 * The marks of a trading-algo `indicator` message, or null for any other message. The feeders send
 * a kline's prices as `<ms mod 10^6>.<µs>` of its send time, so its close carries that time to the
 * microsecond within a window of 1000 s around `nowUs`. Only kline events sent by a feeder carry
 * it: a closed candle filled from REST history does not (see `readIndicatorSentUs`).
 */
export function readIndicatorMark(buf: Buffer, nowUs: number): IndicatorMark | null {
  if (buf.indexOf(INDICATOR) < 0) return null;
  const c = buf.indexOf(CLOSE);
  if (c < 0) return null;
  const start = c + CLOSE.length;
  let end = start;
  while (end < buf.length && buf[end] !== 44 && buf[end] !== 125) end++;
  const close = Number(buf.toString('latin1', start, end));
  if (!Number.isFinite(close)) return null;
  const nowMs = nowUs / 1000;
  const ageMs = (((nowMs - close) % 1e6) + 1e6) % 1e6;
  return { sentUs: (nowMs - ageMs) * 1000, final: buf.indexOf(OPEN_CANDLE) < 0 };
}

/**
 * When the kline behind a trading-algo `indicator` message of an open candle was sent, in µs, or
 * null for any other message. Only open-candle updates count: the trade feeder never closes a
 * candle, so its closed candles come from gap fills (REST history), which carry no send time.
 */
export function readIndicatorSentUs(buf: Buffer, nowUs: number): number | null {
  const mark = readIndicatorMark(buf, nowUs);
  return mark === null || mark.final ? null : mark.sentUs;
}
