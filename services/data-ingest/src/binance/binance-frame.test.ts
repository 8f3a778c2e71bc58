import { describe, expect, it } from 'vitest';
import { DOC_AGG_TRADE_EVENT, DOC_KLINE_EVENT, DOC_TRADE_EVENT } from './binance-doc-examples.js';
import { parseBinanceFrame } from './binance-frame.js';

const KLINE = DOC_KLINE_EVENT;
// The current documentation's trade event, without the retired order ids.
const { b: _buyerOrderId, a: _sellerOrderId, ...TRADE } = DOC_TRADE_EVENT;
const AGG_TRADE = DOC_AGG_TRADE_EVENT;

const combined = (stream: string, data: unknown) => JSON.stringify({ stream, data });

describe('parseBinanceFrame: data events', () => {
  it('parses a combined kline frame with its validated payload', () => {
    expect(parseBinanceFrame(combined('bnbbtc@kline_1m', KLINE))).toEqual({
      type: 'kline',
      stream: 'bnbbtc@kline_1m',
      payload: KLINE,
    });
  });

  it('parses trade and aggTrade frames', () => {
    expect(parseBinanceFrame(combined('bnbbtc@trade', TRADE))).toEqual({
      type: 'trade',
      stream: 'bnbbtc@trade',
      payload: TRADE,
    });
    expect(parseBinanceFrame(combined('bnbbtc@aggTrade', AGG_TRADE))).toEqual({
      type: 'aggTrade',
      stream: 'bnbbtc@aggTrade',
      payload: AGG_TRADE,
    });
  });

  it('drops fields outside the schema (the retired buyer/seller order ids of trades)', () => {
    const frame = parseBinanceFrame(combined('bnbbtc@trade', { ...TRADE, b: 88, a: 50 }));
    expect(frame).toEqual({ type: 'trade', stream: 'bnbbtc@trade', payload: TRADE });
  });

  it('accepts a raw event and derives its stream name', () => {
    expect(parseBinanceFrame(JSON.stringify(KLINE))).toEqual({
      type: 'kline',
      stream: 'bnbbtc@kline_1m',
      payload: KLINE,
    });
  });
});

describe('parseBinanceFrame: serverShutdown in all three shapes', () => {
  it.each([
    ['raw', { e: 'serverShutdown', E: 1700000000000 }],
    ['combined', { stream: 'bnbbtc@trade', data: { e: 'serverShutdown', E: 1700000000000 } }],
    ['WebSocket API', { event: { e: 'serverShutdown', E: 1700000000000 } }],
  ])('recognises the %s form', (_name, frame) => {
    expect(parseBinanceFrame(JSON.stringify(frame))).toEqual({
      type: 'shutdown',
      eventTimeMs: 1700000000000,
    });
  });

  it('reports a shutdown event without its time as malformed', () => {
    expect(parseBinanceFrame('{"e":"serverShutdown"}').type).toBe('malformed');
  });
});

describe('parseBinanceFrame: method replies', () => {
  it('parses a SUBSCRIBE success reply', () => {
    expect(parseBinanceFrame('{"result":null,"id":1}')).toEqual({
      type: 'method-result',
      id: 1,
      result: null,
    });
  });

  it('parses a LIST_SUBSCRIPTIONS reply', () => {
    expect(parseBinanceFrame('{"result":["btcusdt@aggTrade"],"id":3}')).toEqual({
      type: 'method-result',
      id: 3,
      result: ['btcusdt@aggTrade'],
    });
  });

  it('parses the documented error shape and the nested shape servers send', () => {
    expect(parseBinanceFrame('{"code":0,"msg":"Unknown property","id":5}')).toEqual({
      type: 'method-error',
      id: 5,
      code: 0,
      msg: 'Unknown property',
    });
    expect(parseBinanceFrame('{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}')).toEqual({
      type: 'method-error',
      id: 2,
      code: 2,
      msg: 'Invalid request: invalid stream',
    });
    expect(parseBinanceFrame('{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}')).toEqual({
      type: 'method-error',
      id: null,
      code: 3,
      msg: 'Invalid JSON: expected value at line 1 column 1',
    });
  });
});

describe('parseBinanceFrame: bad input never throws', () => {
  const full = combined('bnbbtc@kline_1m', KLINE);
  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['empty text', '', /^invalid JSON/],
    ['not JSON', 'hello', /^invalid JSON/],
    ['truncated JSON', full.slice(0, full.length - 7), /^invalid JSON/],
    ['a JSON array', '[1,2]', /not a JSON object/],
    ['JSON null', 'null', /not a JSON object/],
    ['a number', '42', /not a JSON object/],
    ['data not an object', combined('bnbbtc@trade', 'x'), /data is not an object/],
    ['stream not a string', JSON.stringify({ stream: 7, data: TRADE }), /^combined frame: stream/],
    ['empty stream name', JSON.stringify({ stream: '', data: TRADE }), /^combined frame: stream/],
    ['no stream, only data', JSON.stringify({ data: TRADE }), /^combined frame: stream/],
    ['stream without data', JSON.stringify({ stream: 'bnbbtc@trade' }), /data is not an object/],
    ['missing event type', combined('bnbbtc@trade', { ...TRADE, e: undefined }), /event type "e" missing/],
    ['missing field', combined('bnbbtc@trade', { ...TRADE, p: undefined }), /^bnbbtc@trade: p: /],
    ['price as a number', combined('bnbbtc@trade', { ...TRADE, p: 0.001 }), /^bnbbtc@trade: p: /],
    ['negative price', combined('bnbbtc@trade', { ...TRADE, p: '-1' }), /^bnbbtc@trade: p: /],
    ['empty price', combined('bnbbtc@trade', { ...TRADE, p: '' }), /^bnbbtc@trade: p: /],
    ['time as a string', combined('bnbbtc@trade', { ...TRADE, T: '1672515782136' }), /^bnbbtc@trade: T: /],
    [
      'missing kline body field',
      combined('bnbbtc@kline_1m', { ...KLINE, k: { ...KLINE.k, c: undefined } }),
      /^bnbbtc@kline_1m: k\.c: /,
    ],
    ['symbol differs from stream', combined('btcusdt@trade', TRADE), /symbol BNBBTC does not match/],
    [
      'kline symbol differs from event symbol',
      combined('bnbbtc@kline_1m', { ...KLINE, k: { ...KLINE.k, s: 'ETHBTC' } }),
      /kline symbol ETHBTC differs/,
    ],
    ['interval differs from stream', combined('bnbbtc@kline_5m', KLINE), /interval 1m does not match/],
    [
      'kline open time not on a minute',
      combined('bnbbtc@kline_1m', { ...KLINE, k: { ...KLINE.k, t: 1672515810000, T: 1672515869999 } }),
      /open time 1672515810000 is not aligned to 1m/,
    ],
    [
      'kline close time not the end of its minute',
      combined('bnbbtc@kline_1m', { ...KLINE, k: { ...KLINE.k, T: 1672515840000 } }),
      /close time 1672515840000 does not match/,
    ],
    [
      'event time before the kline opened',
      combined('bnbbtc@kline_1m', { ...KLINE, E: 1672515779999 }),
      /event time 1672515779999 is before the kline opened/,
    ],
    ['event kind differs from stream', combined('bnbbtc@kline_1m', TRADE), /trade event on a kline stream/],
    ['bad method reply', '{"result":{"a":1},"id":1}', /^method result/],
    ['error without msg', '{"code":2,"id":1}', /^method error/],
  ];

  it.each(cases)('%s → malformed with a reason', (_name, text, reason) => {
    const frame = parseBinanceFrame(text);
    expect(frame.type).toBe('malformed');
    expect(frame.type === 'malformed' && frame.reason).toMatch(reason);
  });

  it('reports an unknown event type as unknown', () => {
    expect(parseBinanceFrame(combined('bnbbtc@trade', { ...TRADE, e: 'newThing' }))).toEqual({
      type: 'unknown',
      reason: 'unknown event type "newThing"',
      stream: 'bnbbtc@trade',
    });
  });

  it('reports a stream this adapter does not consume as unknown', () => {
    const frame = parseBinanceFrame(combined('bnbbtc@depth', { e: 'depthUpdate', E: 1 }));
    expect(frame).toEqual({
      type: 'unknown',
      reason: 'unsupported stream "bnbbtc@depth"',
      stream: 'bnbbtc@depth',
    });
  });

  it('reports an unrecognised object as unknown', () => {
    expect(parseBinanceFrame('{"hello":"world"}').type).toBe('unknown');
  });

  it('survives arbitrary prefixes of a valid frame', () => {
    const text = combined('bnbbtc@kline_1m', KLINE);
    for (let i = 0; i < text.length; i++) {
      const frame = parseBinanceFrame(text.slice(0, i));
      expect(['malformed', 'unknown']).toContain(frame.type);
    }
  });
});
