import { candleEvent, tradeEvent } from '@visualgo/bus';
import { binanceKlineEvent, binanceTradeEvent, toBinanceKlineRow } from '@visualgo/contracts';
import { describe, expect, it } from 'vitest';
import { DOC_KLINE_EVENT, DOC_TRADE_EVENT } from '../binance/binance-doc-examples.js';
import { klineEventToCandle, tradeEventToTrade } from '../binance/binance-mapper.js';
import { HAVE_REAL_KLINES, klineFrameOf, loadRealKlines } from '../testing/real-klines.js';
import { binanceCombinedText, binanceEventText } from './binance-frames.js';

const STREAM = 'ethusdt@kline_1m';
const rows = loadRealKlines('binance-frames tests');

/** A frame through the whole path: the adapter's schema and mapper, the bus event, this edge's rendering. */
function throughKline(frame: string, stream = STREAM) {
  const candle = klineEventToCandle(binanceKlineEvent.parse(JSON.parse(frame)), 'binance', 0);
  if (!candle.ok) throw new Error(candle.reason);
  return { event: candleEvent(stream, candle.value), candle: candle.value };
}

function throughTrade(frame: string, stream: string) {
  const trade = tradeEventToTrade(binanceTradeEvent.parse(JSON.parse(frame)), 'binance', 0);
  if (!trade.ok) throw new Error(trade.reason);
  return tradeEvent(stream, trade.value);
}

describe.skipIf(!HAVE_REAL_KLINES)(
  'Binance frames rendered from bus events (real ETHUSDT 1m, 2022-08-14/15)',
  () => {
    it('gives back every final kline event byte for byte, raw and combined, and its klines row', () => {
      expect(rows).toHaveLength(2880);
      let firstTradeId = 940_000_000;
      for (const row of rows) {
        const frame = klineFrameOf(row, 'ETHUSDT', '1m', firstTradeId);
        firstTradeId += row[8];
        const { event, candle } = throughKline(frame);
        expect(binanceEventText.of(event)).toBe(frame);
        expect(binanceCombinedText.of(event)).toBe(`{"stream":"${STREAM}","data":${frame}}`);
        expect(toBinanceKlineRow(candle)).toEqual(row);
      }
    });

    it('gives back open kline updates byte for byte', () => {
      for (const row of rows.slice(0, 200)) {
        const frame = klineFrameOf(row, 'ETHUSDT', '1m', 1, { eventTimeMs: row[0] + 31_042 });
        expect(binanceEventText.of(throughKline(frame).event)).toBe(frame);
      }
    });
  },
);

describe('Binance frames rendered from bus events', () => {
  it('gives back realistic trade events byte for byte', () => {
    for (const frame of [
      '{"e":"trade","E":1660435231042,"s":"ETHUSDT","t":940123150,"p":"1983.01000000","q":"0.05040000","T":1660435231041,"m":true,"M":true}',
      '{"e":"trade","E":1660435231045,"s":"ETHUSDT","t":940123151,"p":"1983.02000000","q":"12.00000000","T":1660435231044,"m":false,"M":true}',
      '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.00100000","q":"100.00000000","T":1672515782136,"m":true,"M":true}',
    ]) {
      const event = throughTrade(frame, 'ethusdt@trade');
      expect(binanceEventText.of(event)).toBe(frame);
      expect(binanceCombinedText.of(event)).toBe(`{"stream":"ethusdt@trade","data":${frame}}`);
    }
  });

  it("renders Binance's documented examples with the same fields in the same order, decimals as the stream sends them", () => {
    // The documentation abbreviates decimals ("0.0010"); the stream sends 8 places ("0.00100000").
    const kline = JSON.parse(
      binanceEventText.of(throughKline(JSON.stringify(DOC_KLINE_EVENT), 'bnbbtc@kline_1m').event),
    );
    expect(kline).toEqual({
      ...DOC_KLINE_EVENT,
      k: {
        ...DOC_KLINE_EVENT.k,
        o: '0.00100000',
        c: '0.00200000',
        h: '0.00250000',
        l: '0.00150000',
        v: '1000.00000000',
        q: '1.00000000',
        V: '500.00000000',
        Q: '0.50000000',
        B: '0',
      },
    });
    expect(Object.keys(kline)).toEqual(Object.keys(DOC_KLINE_EVENT));
    expect(Object.keys(kline.k)).toEqual(Object.keys(DOC_KLINE_EVENT.k));
    // Trades: the buyer and seller order ids of older documentation are no longer sent.
    const { b: _b, a: _a, ...current } = DOC_TRADE_EVENT;
    const trade = JSON.parse(
      binanceEventText.of(throughTrade(JSON.stringify(DOC_TRADE_EVENT), 'bnbbtc@trade')),
    );
    expect(trade).toEqual({ ...current, p: '0.00100000', q: '100.00000000' });
    expect(Object.keys(trade)).toEqual(Object.keys(current));
  });
});
