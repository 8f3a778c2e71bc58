import { binanceKlineEvent, binanceTradeEvent } from '@visualgo/contracts';
import { describe, expect, it } from 'vitest';
import { HAVE_REAL_KLINES, klineFrameOf, loadRealKlines } from '../testing/real-klines.js';
import { DOC_KLINE_EVENT, DOC_TRADE_EVENT } from './binance-doc-examples.js';
import {
  historicalTradeToTrade,
  klineEventToCandle,
  klineRowToCandle,
  parseInterval,
  tradeEventToTrade,
} from './binance-mapper.js';

const rows = loadRealKlines('binance-mapper tests');

describe('parseInterval', () => {
  it('accepts every Binance interval, case sensitive', () => {
    expect(parseInterval('1m')).toEqual({ ok: true, value: '1m' });
    expect(parseInterval('1M')).toEqual({ ok: true, value: '1M' });
    expect(parseInterval('1s')).toEqual({ ok: true, value: '1s' });
  });

  it('returns an error result for an unknown interval instead of throwing', () => {
    expect(parseInterval('2m')).toEqual({ ok: false, reason: 'unknown interval "2m"' });
    expect(parseInterval('1H')).toEqual({ ok: false, reason: 'unknown interval "1H"' });
    expect(parseInterval('')).toEqual({ ok: false, reason: 'unknown interval ""' });
  });
});

describe('klineEventToCandle', () => {
  it("maps Binance's documented kline event exactly", () => {
    const event = binanceKlineEvent.parse(DOC_KLINE_EVENT);
    expect(klineEventToCandle(event, 'binance', 1672515782200)).toEqual({
      ok: true,
      value: {
        type: 'candle',
        exchange: 'binance',
        symbol: 'BNBBTC',
        interval: '1m',
        openTimeMs: 1672515780000,
        closeTimeMs: 1672515839999,
        open: 0.001,
        high: 0.0025,
        low: 0.0015,
        close: 0.002,
        volume: 1000,
        quoteVolume: 1,
        takerBuyVolume: 500,
        takerBuyQuoteVolume: 0.5,
        trades: 100,
        firstTradeId: 100,
        lastTradeId: 200,
        closed: false,
        eventTimeMs: 1672515782136,
        receivedTimeMs: 1672515782200,
      },
    });
  });

  it('carries the exchange it is given, so simulated candles are labelled', () => {
    const event = binanceKlineEvent.parse({ ...DOC_KLINE_EVENT, k: { ...DOC_KLINE_EVENT.k, x: true } });
    const result = klineEventToCandle(event, 'binance-sim', 1);
    expect(result.ok && result.value.exchange).toBe('binance-sim');
    expect(result.ok && result.value.closed).toBe(true);
  });

  it('returns an error result for an interval Binance does not have', () => {
    const event = binanceKlineEvent.parse({ ...DOC_KLINE_EVENT, k: { ...DOC_KLINE_EVENT.k, i: '7m' } });
    expect(klineEventToCandle(event, 'binance', 1)).toEqual({ ok: false, reason: 'unknown interval "7m"' });
  });

  it('rejects a decimal too large for a double rather than passing Infinity on', () => {
    const huge = '9'.repeat(400);
    const event = binanceKlineEvent.parse({ ...DOC_KLINE_EVENT, k: { ...DOC_KLINE_EVENT.k, h: huge } });
    expect(klineEventToCandle(event, 'binance', 1)).toEqual({
      ok: false,
      reason: 'high is not a finite number',
    });
  });
});

describe('tradeEventToTrade', () => {
  it("maps Binance's documented trade event exactly", () => {
    const event = binanceTradeEvent.parse(DOC_TRADE_EVENT);
    expect(tradeEventToTrade(event, 'binance', 1672515782140)).toEqual({
      ok: true,
      value: {
        type: 'trade',
        exchange: 'binance',
        symbol: 'BNBBTC',
        tradeId: 12345,
        price: 0.001,
        quantity: 100,
        tradeTimeMs: 1672515782136,
        buyerIsMaker: true,
        eventTimeMs: 1672515782136,
        receivedTimeMs: 1672515782140,
      },
    });
  });

  it('rejects a price or quantity too large for a double, naming the first', () => {
    const huge = '9'.repeat(400);
    const map = (p: string, q: string) =>
      tradeEventToTrade(binanceTradeEvent.parse({ ...DOC_TRADE_EVENT, p, q }), 'binance', 1);
    expect(map(huge, huge)).toEqual({ ok: false, reason: 'price is not a finite number' });
    expect(map('1.5', huge)).toEqual({ ok: false, reason: 'quantity is not a finite number' });
    const row = {
      id: 1,
      price: '1.5',
      qty: huge,
      quoteQty: '1',
      time: 1,
      isBuyerMaker: true,
      isBestMatch: true,
    };
    expect(historicalTradeToTrade(row, 'bnbbtc', 'binance', 1)).toEqual({
      ok: false,
      reason: 'quantity is not a finite number',
    });
  });
});

describe.skipIf(!HAVE_REAL_KLINES)('REST kline rows (real ETHUSDT 1m data, 2022-08-14/15)', () => {
  it('maps the first row of 2022-08-14 exactly', () => {
    const row = rows[0];
    expect(row).toBeDefined();
    if (!row) return;
    expect(
      klineRowToCandle(row, { exchange: 'binance', symbol: 'ETHUSDT', interval: '1m', receivedTimeMs: 5 }),
    ).toEqual({
      ok: true,
      value: {
        type: 'candle',
        exchange: 'binance',
        symbol: 'ETHUSDT',
        interval: '1m',
        openTimeMs: 1660435200000,
        closeTimeMs: 1660435259999,
        open: 1983.55,
        high: 1983.9,
        low: 1982.14,
        close: 1982.29,
        volume: 205.131,
        quoteVolume: 406814.92308,
        takerBuyVolume: 105.2993,
        takerBuyQuoteVolume: 208854.930674,
        trades: 288,
        firstTradeId: -1,
        lastTradeId: -1,
        closed: true,
        eventTimeMs: 1660435260000,
        receivedTimeMs: 5,
      },
    });
  });

  it('maps every row as the final stream event Binance sends for it', () => {
    expect(rows.length).toBe(2880);
    for (const row of rows) {
      const event = binanceKlineEvent.parse(JSON.parse(klineFrameOf(row, 'ETHUSDT', '1m', -1)));
      const fromRest = klineRowToCandle(row, {
        exchange: 'binance',
        symbol: 'ETHUSDT',
        interval: '1m',
        receivedTimeMs: 7,
      });
      // REST rows carry no trade ids: the stream's are the only difference.
      const live = klineEventToCandle(event, 'binance', 7);
      expect(live.ok && { ...live.value, firstTradeId: -1, lastTradeId: -1 }).toEqual(
        fromRest.ok && fromRest.value,
      );
      expect(fromRest.ok && fromRest.value.low <= fromRest.value.high).toBe(true);
    }
  });
});

describe('historical trades', () => {
  const row = {
    id: 28457,
    price: '4.00000100',
    qty: '12.00000000',
    quoteQty: '48.000012',
    time: 1499865549590,
    isBuyerMaker: true,
    isBestMatch: true,
  };

  it('maps a REST trade to the domain trade, with the trade time as event time', () => {
    expect(historicalTradeToTrade(row, 'bnbbtc', 'binance', 1499865549700)).toEqual({
      ok: true,
      value: {
        type: 'trade',
        exchange: 'binance',
        symbol: 'BNBBTC',
        tradeId: 28457,
        price: 4.000001,
        quantity: 12,
        tradeTimeMs: 1499865549590,
        buyerIsMaker: true,
        eventTimeMs: 1499865549590,
        receivedTimeMs: 1499865549700,
      },
    });
  });
});
