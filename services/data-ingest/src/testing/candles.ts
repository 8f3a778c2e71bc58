import type { Candle } from '@visualgo/market';
import { testCandle } from '@visualgo/testing';

export const MINUTE_MS = 60_000;
/** 2022-08-14T00:00:00Z, the first open time of the recorded ETHUSDT sample. */
export const T0 = 1_660_435_200_000;

/**
 * ETHUSDT 1m candle number `i` after T0 (prices 2000 + i), from the shared test-candle factory;
 * open updates carry an event time inside the minute.
 */
export function ethCandle(
  i: number,
  closed: boolean,
  symbol = 'ETHUSDT',
  eventOffsetMs = closed ? MINUTE_MS : 1_000,
): Candle {
  const openTimeMs = T0 + i * MINUTE_MS;
  return testCandle({
    symbol,
    openTimeMs,
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
  });
}
