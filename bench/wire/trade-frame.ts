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
