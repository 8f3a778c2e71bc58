import type { Candle, Trade } from '@visualgo/market';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binanceKlineEvent, binanceTradeEvent } from './binance-messages.js';
import {
  binanceCombinedJson,
  binanceDecimal,
  binanceKlineEventJson,
  binanceTradeEventJson,
  toBinanceKlineRow,
} from './binance-render.js';

/**
 * Frames as Binance sends them for ETHUSDT: the kline values are the first minute of
 * 2022-08-14 from Binance's public kline archive (ETHUSDT-1m-2022-08-14.csv), laid out as the
 * stream sends them; the trade is a realistic one of that minute.
 */
const KLINE_FRAME =
  '{"e":"kline","E":1660435260001,"s":"ETHUSDT","k":{"t":1660435200000,"T":1660435259999,"s":"ETHUSDT","i":"1m","f":940123001,"L":940123288,"o":"1983.55000000","c":"1982.29000000","h":"1983.90000000","l":"1982.14000000","v":"205.13100000","n":288,"x":true,"q":"406814.92308000","V":"105.29930000","Q":"208854.93067400","B":"0"}}';
const OPEN_KLINE_FRAME =
  '{"e":"kline","E":1660435231042,"s":"ETHUSDT","k":{"t":1660435200000,"T":1660435259999,"s":"ETHUSDT","i":"1m","f":940123001,"L":940123150,"o":"1983.55000000","c":"1983.01000000","h":"1983.90000000","l":"1982.60000000","v":"101.00410000","n":150,"x":false,"q":"200300.11208000","V":"50.00000000","Q":"99155.50000000","B":"0"}}';
const TRADE_FRAME =
  '{"e":"trade","E":1660435231042,"s":"ETHUSDT","t":940123150,"p":"1983.01000000","q":"0.05040000","T":1660435231041,"m":true,"M":true}';

/** What a correct client makes of a kline frame: the numbers its decimal strings parse to. */
function candleOf(frame: string): Candle {
  const { E, k } = binanceKlineEvent.parse(JSON.parse(frame));
  return {
    type: 'candle',
    exchange: 'binance',
    symbol: k.s,
    interval: '1m',
    openTimeMs: k.t,
    closeTimeMs: k.T,
    open: Number(k.o),
    high: Number(k.h),
    low: Number(k.l),
    close: Number(k.c),
    volume: Number(k.v),
    quoteVolume: Number(k.q),
    takerBuyVolume: Number(k.V),
    takerBuyQuoteVolume: Number(k.Q),
    trades: k.n,
    firstTradeId: k.f,
    lastTradeId: k.L,
    closed: k.x,
    eventTimeMs: E,
    receivedTimeMs: E + 3,
  };
}

function tradeOf(frame: string): Trade {
  const t = binanceTradeEvent.parse(JSON.parse(frame));
  return {
    type: 'trade',
    exchange: 'binance',
    symbol: t.s,
    tradeId: t.t,
    price: Number(t.p),
    quantity: Number(t.q),
    tradeTimeMs: t.T,
    buyerIsMaker: t.m,
    eventTimeMs: t.E,
    receivedTimeMs: t.E + 3,
  };
}

describe('Binance wire rendering', () => {
  it('renders kline events byte for byte as Binance sends them, closed and open', () => {
    expect(binanceKlineEventJson(candleOf(KLINE_FRAME))).toBe(KLINE_FRAME);
    expect(binanceKlineEventJson(candleOf(OPEN_KLINE_FRAME))).toBe(OPEN_KLINE_FRAME);
  });

  it('renders trade events byte for byte as Binance sends them', () => {
    expect(binanceTradeEventJson(tradeOf(TRADE_FRAME))).toBe(TRADE_FRAME);
  });

  it('wraps an event in the combined-stream frame', () => {
    expect(binanceCombinedJson('ethusdt@trade', TRADE_FRAME)).toBe(
      `{"stream":"ethusdt@trade","data":${TRADE_FRAME}}`,
    );
  });

  it('renders a klines row with the same strings as the stream', () => {
    expect(toBinanceKlineRow(candleOf(KLINE_FRAME))).toEqual([
      1660435200000,
      '1983.55000000',
      '1983.90000000',
      '1982.14000000',
      '1982.29000000',
      '205.13100000',
      1660435259999,
      '406814.92308000',
      288,
      '105.29930000',
      '208854.93067400',
      '0',
    ]);
  });

  it('gives back every 8-decimal string below 2^26 exactly from the number it parses to', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 67_108_864n * 100_000_000n - 1n }), (units) => {
        const text = `${units / 100_000_000n}.${(units % 100_000_000n).toString().padStart(8, '0')}`;
        return binanceDecimal(Number(text)) === text;
      }),
      { numRuns: 20_000 },
    );
  });

  it('above 2^26 gives a string that parses to the same number', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 67_108_864n * 100_000_000n, max: 10n ** 20n }), (units) => {
        const text = `${units / 100_000_000n}.${(units % 100_000_000n).toString().padStart(8, '0')}`;
        return Number(binanceDecimal(Number(text))) === Number(text);
      }),
      { numRuns: 5_000 },
    );
    expect(binanceDecimal(2e21)).toBe('2000000000000000000000.00000000');
  });
});
