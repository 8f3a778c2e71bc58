import { describe, expect, it } from 'vitest';
import { errorReply, parseMethodRequest, resultReply } from './binance-method.js';

describe('parseMethodRequest', () => {
  it('accepts the id forms Binance accepts: integers, short alphanumeric strings and null', () => {
    for (const id of [0, 42, -7, 'abc-123', null]) {
      expect(parseMethodRequest(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id }))).toEqual({
        ok: true,
        request: { method: 'LIST_SUBSCRIPTIONS', id },
      });
    }
    for (const id of [1.5, 'x'.repeat(37), 'has space', true, [1]]) {
      const parsed = parseMethodRequest(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id }));
      expect(parsed).toEqual({
        ok: false,
        error: { code: 2, msg: 'Invalid request: request ID must be an unsigned integer', id: null },
      });
    }
    expect(parseMethodRequest('{"method":"LIST_SUBSCRIPTIONS"}').ok).toBe(false);
  });

  it('parses SUBSCRIBE params and SET_PROPERTY values, and rejects malformed ones', () => {
    expect(parseMethodRequest('{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}')).toEqual({
      ok: true,
      request: { method: 'SUBSCRIBE', streams: ['btcusdt@trade'], id: 1 },
    });
    expect(parseMethodRequest('{"method":"SET_PROPERTY","params":["combined",false],"id":2}')).toEqual({
      ok: true,
      request: { method: 'SET_PROPERTY', property: 'combined', value: false, id: 2 },
    });
    const error = (text: string): unknown => {
      const parsed = parseMethodRequest(text);
      return parsed.ok ? null : parsed.error;
    };
    expect(error('{"method":"SUBSCRIBE","params":"btcusdt@trade","id":1}')).toEqual({
      code: 2,
      msg: 'Invalid request: params must be an array of stream names',
      id: 1,
    });
    expect(error('{"method":"SET_PROPERTY","params":["combined",true,1],"id":3}')).toEqual({
      code: 2,
      msg: 'Invalid request: too many parameters',
      id: 3,
    });
    expect(error('[1,2]')).toEqual({ code: 2, msg: 'Invalid request: expected a JSON object', id: null });
    expect(error('{"method":7,"id":4}')).toMatchObject({ code: 2, id: 4 });
  });

  it("formats replies in Binance's wire form", () => {
    expect(resultReply(null, 1)).toBe('{"result":null,"id":1}');
    expect(resultReply(['btcusdt@trade'], 'a')).toBe('{"result":["btcusdt@trade"],"id":"a"}');
    expect(errorReply({ code: 0, msg: 'Unknown property', id: 5 })).toBe(
      '{"error":{"code":0,"msg":"Unknown property"},"id":5}',
    );
  });
});
