import { describe, expect, it } from 'vitest';
import { formatStreamName, parseStreamName } from './stream-name.js';

describe('stream names', () => {
  it('round-trips kline, trade and aggTrade names', () => {
    for (const name of ['btcusdt@kline_1m', 'ethusdt@kline_1M', 'bnbbtc@trade', 'btcusdt@aggTrade']) {
      const id = parseStreamName(name);
      expect(id).not.toBeNull();
      if (id) expect(formatStreamName(id)).toBe(name);
    }
  });

  it('upper-cases the symbol in the parsed id', () => {
    expect(parseStreamName('btcusdt@kline_5m')).toEqual({ kind: 'kline', symbol: 'BTCUSDT', interval: '5m' });
  });

  it('rejects malformed names', () => {
    for (const bad of [
      'BTCUSDT@trade',
      'btcusdt@kline_7m',
      'btcusdt',
      '@trade',
      'btcusdt@depth',
      'btc usdt@trade',
    ]) {
      expect(parseStreamName(bad)).toBeNull();
    }
  });
});
