import { type ExchangeId, parseStreamName, type StreamId } from '@visualgo/market';
import { FEED_STREAM } from './market-event.js';

/**
 * Subjects of market data on a message bus between processes, one per stream:
 * `md.<venue>.<kind>.<interval>.<SYMBOL>.<partition>`, for example `md.binance.kline.1m.BTCUSDT.17`
 * and `md.binance.trade.-.BTCUSDT.17` (kinds without an interval put `-` there). Status events of
 * a stream take the stream's subject with `status` for its kind, so that one wildcard
 * (`md.binance.*.1m.BTCUSDT.17`) takes a stream's candles and its status in one order; feed-wide
 * status is `md.<venue>.status.-.-.0`.
 *
 * The partition spreads symbols over a fixed number of consumers; it is computed by
 * {@link partitionOf} alone, everywhere, so every process agrees on it.
 */
export const PARTITIONS = 64;

const NO_TOKEN = '-';
const UTF8 = new TextEncoder();
const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * 32-bit FNV-1a of the UTF-8 bytes of `text`, unsigned: a published, stable hash (the same in
 * every language, process and version), not the runtime's own.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of UTF8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The partition of a symbol: FNV-1a of its upper-case form, modulo {@link PARTITIONS}. */
export function partitionOf(symbol: string): number {
  return fnv1a32(symbol.toUpperCase()) % PARTITIONS;
}

function token(value: string, what: string): string {
  if (!TOKEN.test(value)) throw new RangeError(`${what} ${JSON.stringify(value)} cannot be a subject token`);
  return value;
}

/** The subject of a stream's events: `md.<venue>.<kind>.<interval>.<SYMBOL>.<partition>`. */
export function streamSubject(venue: ExchangeId, id: StreamId): string {
  const symbol = token(id.symbol.toUpperCase(), 'symbol');
  const interval = id.kind === 'kline' ? token(id.interval, 'interval') : NO_TOKEN;
  return `md.${token(venue, 'venue')}.${id.kind}.${interval}.${symbol}.${partitionOf(symbol)}`;
}

/** The subject of status events about `stream` (a stream name, or `FEED_STREAM`). */
export function statusSubject(venue: ExchangeId, stream: string): string {
  if (stream === FEED_STREAM) return `md.${token(venue, 'venue')}.status.${NO_TOKEN}.${NO_TOKEN}.0`;
  const id = parseStreamName(stream);
  if (!id) throw new RangeError(`${JSON.stringify(stream)} is not a stream name`);
  const [, , , interval, symbol, partition] = streamSubject(venue, id).split('.');
  return `md.${venue}.status.${interval}.${symbol}.${partition}`;
}
