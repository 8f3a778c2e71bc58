import type { Candle } from '@visualgo/market';
import { testCandle } from '@visualgo/testing';

export const MINUTE_MS = 60_000;
/** 2024-03-04T00:00:00Z, a Monday: day, week and month anchors all start here. */
export const T0 = Date.UTC(2024, 2, 4);
export const STREAM = 'btcusdt@kline_1m';
export const STREAM_2 = 'ethusdt@kline_1m';

export interface Ohlcv {
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

/**
 * The 1m candle number `i` after T0 with the given prices, from the shared test-candle factory
 * (quote volume from the typical price, half of it bought by takers, ten trades); an open update,
 * half-way through its minute, when `closed` is false.
 */
export function candleAt(i: number, prices: Ohlcv, closed = true, symbol = 'BTCUSDT'): Candle {
  const openTimeMs = T0 + i * MINUTE_MS;
  const typical = (prices.high + prices.low + prices.close) / 3;
  return testCandle({
    symbol,
    openTimeMs,
    ...prices,
    takerBuyVolume: prices.volume / 2,
    takerBuyQuoteVolume: (typical * prices.volume) / 2,
    trades: 10,
    firstTradeId: i * 10,
    lastTradeId: i * 10 + 9,
    closed,
    eventTimeMs: closed ? openTimeMs + MINUTE_MS : openTimeMs + 30_000,
    receivedTimeMs: closed ? openTimeMs + MINUTE_MS + 2 : openTimeMs + 30_002,
  });
}

/** A deterministic wandering price series: candle `i` of it. */
export function walkCandle(i: number, closed = true, symbol = 'BTCUSDT'): Candle {
  const base = 100 + 5 * Math.sin(i / 7) + 2 * Math.cos(i / 3);
  const close = base + (closed ? 0.3 : 0.1) * Math.sin(i);
  return candleAt(
    i,
    {
      open: base - 0.2,
      high: Math.max(base, close) + 0.5 + 0.2 * Math.abs(Math.cos(i)),
      low: Math.min(base, close) - 0.5 - 0.2 * Math.abs(Math.sin(i)),
      close,
      volume: 5 + (i % 7),
    },
    closed,
    symbol,
  );
}

/** `n` closed walk candles from index `from`. */
export function walk(from: number, n: number, symbol = 'BTCUSDT'): Candle[] {
  return Array.from({ length: n }, (_, k) => walkCandle(from + k, true, symbol));
}

const flat = (price: number): Ohlcv => ({
  open: price,
  high: price + 0.5,
  low: price - 0.5,
  close: price,
  volume: 10,
});

/**
 * A rubberband scenario (EMA 9, ATR 14, K 2, day anchor): 30 quiet candles around 100, a spike
 * that closes at 104 (far above the EMA and the VWAP: overbought), a calm return to 100 that
 * re-arms, then a drop to 96 (oversold).
 */
export function rubberbandScenario(): Candle[] {
  const out: Candle[] = [];
  let i = 0;
  for (; i < 30; i++) out.push(candleAt(i, flat(100)));
  out.push(candleAt(i++, { open: 100, high: 104.2, low: 100, close: 104, volume: 10 }));
  for (let k = 0; k < 15; k++) out.push(candleAt(i++, flat(100)));
  out.push(candleAt(i++, { open: 100, high: 100, low: 95.8, close: 96, volume: 10 }));
  for (let k = 0; k < 5; k++) out.push(candleAt(i++, flat(100)));
  return out;
}
