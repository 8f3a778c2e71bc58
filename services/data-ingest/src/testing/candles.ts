import type { Candle } from '@visualgo/market';

export const MINUTE_MS = 60_000;
/** 2022-08-14T00:00:00Z, the first open time of the recorded ETHUSDT sample. */
export const T0 = 1_660_435_200_000;

/** A synthetic 1m candle number `i` after T0; open updates carry an event time inside the minute. */
export function testCandle(
  i: number,
  closed: boolean,
  symbol = 'ETHUSDT',
  eventOffsetMs = closed ? MINUTE_MS : 1_000,
): Candle {
  const openTimeMs = T0 + i * MINUTE_MS;
  return {
    type: 'candle',
    exchange: 'binance-sim',
    symbol,
    interval: '1m',
    openTimeMs,
    closeTimeMs: openTimeMs + MINUTE_MS - 1,
    open: 2000 + i,
    high: 2001 + i,
    low: 1999 + i,
    close: 2000.5 + i,
    volume: 10,
    quoteVolume: 20_005 + 10 * i,
    takerBuyVolume: 4,
    takerBuyQuoteVolume: 8_002,
    trades: 5,
    firstTradeId: i * 5,
    lastTradeId: i * 5 + 4,
    closed,
    eventTimeMs: openTimeMs + eventOffsetMs,
    receivedTimeMs: openTimeMs + eventOffsetMs + 3,
  };
}
