/**
 * Stream payloads exactly as Binance documents them (binance-spot-api-docs, web-socket-streams.md,
 * "Kline/Candlestick Streams", "Trade Streams" and "Aggregate Trade Streams"), for tests.
 */
export const DOC_KLINE_EVENT = {
  e: 'kline',
  E: 1672515782136,
  s: 'BNBBTC',
  k: {
    t: 1672515780000,
    T: 1672515839999,
    s: 'BNBBTC',
    i: '1m',
    f: 100,
    L: 200,
    o: '0.0010',
    c: '0.0020',
    h: '0.0025',
    l: '0.0015',
    v: '1000',
    n: 100,
    x: false,
    q: '1.0000',
    V: '500',
    Q: '0.500',
    B: '123456',
  },
};

/** Older documentation also shows the buyer (`b`) and seller (`a`) order ids, since retired. */
export const DOC_TRADE_EVENT = {
  e: 'trade',
  E: 1672515782136,
  s: 'BNBBTC',
  t: 12345,
  p: '0.001',
  q: '100',
  b: 88,
  a: 50,
  T: 1672515782136,
  m: true,
  M: true,
};

export const DOC_AGG_TRADE_EVENT = {
  e: 'aggTrade',
  E: 1672515782136,
  s: 'BNBBTC',
  a: 12345,
  p: '0.001',
  q: '100',
  f: 100,
  l: 105,
  T: 1672515782136,
  m: true,
  M: true,
};
