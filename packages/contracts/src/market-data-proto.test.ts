import type { Candle } from '@visualgo/market';
import { describe, expect, it } from 'vitest';
import { KlineData } from './gen/trade.js';
import { Candle as ProtoCandle } from './gen/visualgo/v1/market_data.js';
import {
  candleFromProto,
  candleToKlineData,
  candleToProto,
  ProtoConversionError,
} from './market-data-proto.js';

// First ETHUSDT 1m candle of 2022-08-14 (Binance public data).
const candle: Candle = {
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
  firstTradeId: 935000000,
  lastTradeId: 935000287,
  closed: true,
  eventTimeMs: 1660435260001,
  receivedTimeMs: 1660435260042,
};

describe('candle <-> proto', () => {
  it('round-trips through the binary wire format unchanged', () => {
    const bytes = ProtoCandle.encode(candleToProto(candle, 'ethusdt@kline_1m')).finish();
    const decoded = ProtoCandle.decode(bytes);
    expect(decoded.stream).toBe('ethusdt@kline_1m');
    expect(candleFromProto(decoded)).toEqual(candle);
  });

  it('rejects unknown intervals and exchanges', () => {
    const p = candleToProto(candle, 'ethusdt@kline_1m');
    expect(() => candleFromProto({ ...p, interval: '7m' })).toThrow(ProtoConversionError);
    expect(() => candleFromProto({ ...p, exchange: 'kraken' })).toThrow(ProtoConversionError);
  });

  it('maps to the seed KlineData message field for field', () => {
    const k = KlineData.decode(KlineData.encode(candleToKlineData(candle)).finish());
    expect(k).toEqual({
      symbol: 'ETHUSDT',
      openTime: 1660435200000,
      closeTime: 1660435259999,
      openPrice: 1983.55,
      closePrice: 1982.29,
      highPrice: 1983.9,
      lowPrice: 1982.14,
      volume: 205.131,
      numTrades: 288,
      isKlineClosed: true,
    });
  });
});
