import { type Interval, isInterval } from './interval.js';

export type StreamKind = 'kline' | 'trade' | 'aggTrade';

/** A kline stream: the candles of one symbol at one interval. */
export interface KlineStreamId {
  readonly kind: 'kline';
  /** Upper case, as Binance reports it: `BTCUSDT`. */
  readonly symbol: string;
  readonly interval: Interval;
}

/** A trade stream: every trade (or aggregate trade) of one symbol. */
export interface TradeStreamId {
  readonly kind: 'trade' | 'aggTrade';
  readonly symbol: string;
}

/**
 * The identity of a market data stream, everywhere in the system: what a service ingests, lists
 * and serves, and what a subscriber asks for. Its text form is the Binance stream name
 * (`btcusdt@kline_1m`, see {@link formatStreamName}); symbol is upper case here, lower case there.
 */
export type StreamId = KlineStreamId | TradeStreamId;

const SYMBOL_RE = /^[a-z0-9]{2,20}$/;

/** `btcusdt@kline_1m`, `btcusdt@trade`, `btcusdt@aggTrade`. */
export function formatStreamName(id: StreamId): string {
  const symbol = id.symbol.toLowerCase();
  return id.kind === 'kline' ? `${symbol}@kline_${id.interval}` : `${symbol}@${id.kind}`;
}

export function klineStreamName(symbol: string, interval: Interval): string {
  return formatStreamName({ kind: 'kline', symbol, interval });
}

/**
 * Parses a Binance stream name. Binance is case sensitive after the `@` (`aggTrade`, `kline_1M`
 * differs from `kline_1m`); the symbol must be lower case. Returns null when it is not a
 * kline, trade or aggTrade stream.
 */
export function parseStreamName(name: string): StreamId | null {
  const at = name.indexOf('@');
  if (at <= 0) return null;
  const symbol = name.slice(0, at);
  const rest = name.slice(at + 1);
  if (!SYMBOL_RE.test(symbol)) return null;
  const upper = symbol.toUpperCase();
  if (rest === 'trade' || rest === 'aggTrade') return { kind: rest, symbol: upper };
  if (rest.startsWith('kline_')) {
    const interval = rest.slice('kline_'.length);
    return isInterval(interval) ? { kind: 'kline', symbol: upper, interval } : null;
  }
  return null;
}
