import type { Candle } from './candle.js';
import { intervalCloseTimeMs } from './interval.js';

/**
 * A closed BTCUSDT 1m candle for tests: the given fields over plain defaults, close time derived
 * from the open time, quote volume from the typical price unless given.
 */
export function testCandle(fields: Partial<Candle> & Pick<Candle, 'openTimeMs'>): Candle {
  const high = fields.high ?? 101;
  const low = fields.low ?? 99;
  const close = fields.close ?? 100;
  const volume = fields.volume ?? 1;
  const interval = fields.interval ?? '1m';
  return {
    type: 'candle',
    exchange: 'binance-sim',
    symbol: 'BTCUSDT',
    interval,
    closeTimeMs: intervalCloseTimeMs(interval, fields.openTimeMs),
    open: close,
    high,
    low,
    close,
    volume,
    quoteVolume: (volume * (high + low + close)) / 3,
    takerBuyVolume: 0,
    takerBuyQuoteVolume: 0,
    trades: volume > 0 ? 1 : 0,
    firstTradeId: -1,
    lastTradeId: -1,
    closed: true,
    eventTimeMs: fields.openTimeMs,
    receivedTimeMs: fields.openTimeMs,
    ...fields,
  };
}
