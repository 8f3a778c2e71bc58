import type { Candle } from '@visualgo/market';

/** A deterministic random-walk series of closed 1m candles for benchmarks. */
export function candleSeries(n: number, startMs = Date.UTC(2024, 0, 1)): Candle[] {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const out: Candle[] = [];
  let price = 2_000;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = Math.max(1, open + (rand() - 0.5) * 4);
    const high = Math.max(open, close) + rand();
    const low = Math.min(open, close) - rand();
    const volume = 1 + rand() * 100;
    const openTimeMs = startMs + i * 60_000;
    out.push({
      type: 'candle',
      exchange: 'binance-sim',
      symbol: 'ETHUSDT',
      interval: '1m',
      openTimeMs,
      closeTimeMs: openTimeMs + 59_999,
      open,
      high,
      low,
      close,
      volume,
      quoteVolume: (volume * (high + low + close)) / 3,
      takerBuyVolume: volume / 2,
      takerBuyQuoteVolume: (volume / 2) * close,
      trades: 10,
      firstTradeId: i * 10,
      lastTradeId: i * 10 + 9,
      closed: true,
      eventTimeMs: openTimeMs + 60_000,
      receivedTimeMs: openTimeMs + 60_003,
    });
    price = close;
  }
  return out;
}
