import { type Candle, intervalCloseTimeMs, type Trade } from '@visualgo/market';

/** What a test says about a candle: its open time, and any field that matters to it. */
export type CandleFields = Partial<Candle> & Pick<Candle, 'openTimeMs'>;

/**
 * The one factory of test candles: a closed BTCUSDT 1m candle on the simulated exchange, the
 * given fields over plain defaults (close 100, high 101, low 99, open = close, volume 1). Derived
 * fields follow what is given, as on the exchange: the close time from the interval and open time,
 * the quote volume from the typical price times the volume, one trade when there is volume. Event
 * and receive times default to the open time.
 */
export function testCandle(fields: CandleFields): Candle {
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

/** A BTCUSDT trade on the simulated exchange: the given fields over plain defaults. */
export function testTrade(fields: Partial<Trade> & Pick<Trade, 'tradeId'>): Trade {
  return {
    type: 'trade',
    exchange: 'binance-sim',
    symbol: 'BTCUSDT',
    price: 100,
    quantity: 0.5,
    tradeTimeMs: 1_700_000_000_000,
    buyerIsMaker: false,
    eventTimeMs: 1_700_000_000_001,
    receivedTimeMs: 1_700_000_000_002,
    ...fields,
  };
}
