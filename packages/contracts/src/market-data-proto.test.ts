import type { Candle } from '@visualgo/market';
import { describe, expect, it } from 'vitest';
import { KlineData } from './gen/trade.js';
import {
  GetCandlesRequest,
  Candle as ProtoCandle,
  StreamCandlesRequest,
} from './gen/visualgo/v1/market_data.js';
import {
  candleFromProto,
  candleToKlineData,
  candleToProto,
  fromInt64,
  int64Bound,
  ProtoConversionError,
} from './market-data-proto.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

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
      openTime: 1660435200000n,
      closeTime: 1660435259999n,
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

describe('int64 fields', () => {
  it('decode at the edges of int64 instead of failing the whole message', () => {
    for (const edge of [INT64_MAX, INT64_MIN, 2n ** 53n + 1n, -1n, 0n]) {
      const bytes = GetCandlesRequest.encode({
        stream: 'ethusdt@kline_1m',
        startTimeMs: edge,
        endTimeMs: edge,
        limit: 1,
        heldOnly: false,
      }).finish();
      expect(GetCandlesRequest.decode(bytes)).toMatchObject({ startTimeMs: edge, endTimeMs: edge });
      const since = StreamCandlesRequest.decode(
        StreamCandlesRequest.encode({ streams: [], sinceOpenTimeMs: edge, closedOnly: false }).finish(),
      );
      expect(since.sinceOpenTimeMs).toBe(edge);
    }
  });

  it('int64Bound keeps safe integers exact and clamps beyond, keeping the sign', () => {
    expect(int64Bound(1660435200000n)).toBe(1660435200000);
    expect(int64Bound(0n)).toBe(0);
    expect(int64Bound(-1n)).toBe(-1);
    expect(int64Bound(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(int64Bound(2n ** 53n + 1n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(int64Bound(INT64_MAX)).toBe(Number.MAX_SAFE_INTEGER);
    expect(int64Bound(INT64_MIN)).toBe(Number.MIN_SAFE_INTEGER);
  });

  it('refuses a candle whose times or ids are outside the safe integer range', () => {
    expect(fromInt64(123n, 'x')).toBe(123);
    expect(() => fromInt64(2n ** 53n, 'open_time_ms')).toThrow(
      new ProtoConversionError(`open_time_ms ${2n ** 53n} is outside the safe integer range`),
    );
    const p = candleToProto(candle, 'ethusdt@kline_1m');
    const huge = ProtoCandle.decode(ProtoCandle.encode({ ...p, openTimeMs: INT64_MAX }).finish());
    expect(() => candleFromProto(huge)).toThrow(ProtoConversionError);
    expect(() => candleFromProto({ ...p, lastTradeId: INT64_MIN })).toThrow(ProtoConversionError);
  });
});
