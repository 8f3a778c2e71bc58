import { type Candle, type ExchangeId, parseStreamName, type StreamId } from '@visualgo/market';
import { FEED_STREAM, type MarketEvent } from '../market-event.js';
import { partitionOf, statusSubject, streamSubject } from '../subject.js';

/**
 * How the bus uses the subject scheme of `../subject.ts` on NATS
 * (`md.<venue>.<kind>.<interval>.<SYMBOL>.<partition>`):
 *
 * | kind     | carries                                                          | where               |
 * |----------|------------------------------------------------------------------|---------------------|
 * | `kline`  | closed candles, each stored once                                 | JetStream `MD_KLINES` |
 * | `candle` | a kline stream's live states: open updates, and each closed candle once it is stored | core (the last one per subject kept in `MD_CANDLES`) |
 * | `trade`, `aggTrade` | trades                                                | core                |
 * | `status` | feed status of a stream, or of the whole feed (`md.<venue>.status.-.-.0`) | core       |
 *
 * Live subscribers take `candle` and `status`: a closed candle reaches them only after it is
 * stored, which is what makes "replay from the store, then live" gapless (see `NatsBus`).
 */

/** Subject of a kline stream's closed candles (the stored copy): `md.binance.kline.1m.BTCUSDT.17`. */
export function klineSubject(venue: ExchangeId, symbol: string, interval: Candle['interval']): string {
  return streamSubject(venue, { kind: 'kline', symbol, interval });
}

/** Subject of a kline stream's live states: `md.binance.candle.1m.BTCUSDT.17`. */
export function candleSubject(venue: ExchangeId, symbol: string, interval: Candle['interval']): string {
  const upper = symbol.toUpperCase();
  return `md.${venue}.candle.${interval}.${upper}.${partitionOf(upper)}`;
}

/** The subject an event is published on. */
export function eventSubject(venue: ExchangeId, event: MarketEvent): string {
  switch (event.type) {
    case 'candle': {
      const { symbol, interval, closed } = event.candle;
      return closed ? klineSubject(venue, symbol, interval) : candleSubject(venue, symbol, interval);
    }
    case 'trade': {
      const id = parseStreamName(event.stream);
      if (!id || id.kind === 'kline')
        throw new RangeError(`${JSON.stringify(event.stream)} is not a trade stream`);
      return streamSubject(venue, id);
    }
    case 'status':
      return statusSubject(venue, event.stream);
  }
}

/** The subjects a live subscriber of `stream` takes (in one connection, so in publication order). */
export function liveSubjects(venue: ExchangeId, stream: string): string[] {
  if (stream === FEED_STREAM) return [statusSubject(venue, FEED_STREAM)];
  const id = parseStreamName(stream);
  if (!id) throw new RangeError(`${JSON.stringify(stream)} is not a stream name`);
  if (id.kind === 'kline') {
    return [candleSubject(venue, id.symbol, id.interval), statusSubject(venue, stream)];
  }
  return [streamSubject(venue, id), statusSubject(venue, stream)];
}

/**
 * The JetStream message id of a closed candle: its content's identity
 * (`binance:kline:BTCUSDT:1m:1709510400000`), the same from every producer, so the store keeps
 * one copy whoever publishes it (within the stream's duplicate window; see `KlineWriter` for
 * beyond it).
 */
export function klineMessageId(
  venue: ExchangeId,
  candle: Pick<Candle, 'symbol' | 'interval' | 'openTimeMs'>,
): string {
  return `${venue}:kline:${candle.symbol.toUpperCase()}:${candle.interval}:${candle.openTimeMs}`;
}

/** Every subject of one partition for a kind: `md.<venue>.kline.*.*.<partition>`. */
export function partitionSubject(venue: ExchangeId, kind: 'kline' | 'candle', partition: number): string {
  return `md.${venue}.${kind}.*.*.${partition}`;
}

/** The kline stream of a closed-candle subject, or null when the subject is not one. */
export function streamOfKlineSubject(subject: string): (StreamId & { kind: 'kline' }) | null {
  const parts = subject.split('.');
  if (parts.length !== 6 || parts[0] !== 'md' || parts[2] !== 'kline') return null;
  const [, , , interval, symbol] = parts;
  const id = parseStreamName(`${(symbol ?? '').toLowerCase()}@kline_${interval}`);
  return id?.kind === 'kline' ? id : null;
}
