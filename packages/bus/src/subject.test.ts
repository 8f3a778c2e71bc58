import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FEED_STREAM } from './market-event.js';
import { fnv1a32, PARTITIONS, partitionOf, statusSubject, streamSubject } from './subject.js';

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    // From the FNV reference test suite (draft-eastlake-fnv, section 8).
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});

describe('partitionOf', () => {
  it('is fixed for known symbols, whatever their case', () => {
    // Pinned: a change here moves streams between consumers of a running cluster.
    const pinned = Object.fromEntries(['BTCUSDT', 'ETHUSDT', 'BNBBTC'].map((s) => [s, partitionOf(s)]));
    expect(pinned).toEqual({
      BTCUSDT: fnv1a32('BTCUSDT') % 64,
      ETHUSDT: fnv1a32('ETHUSDT') % 64,
      BNBBTC: fnv1a32('BNBBTC') % 64,
    });
    expect(partitionOf('btcusdt')).toBe(partitionOf('BTCUSDT'));
  });

  it('is an integer in [0, 64) for any symbol', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), (symbol) => {
        const p = partitionOf(symbol);
        return Number.isInteger(p) && p >= 0 && p < PARTITIONS;
      }),
    );
  });

  it('spreads 2,000 symbols over every partition, none with more than twice its share', () => {
    const counts = new Array<number>(PARTITIONS).fill(0);
    for (let i = 0; i < 2_000; i++) {
      const p = partitionOf(`SYM${i.toString(36).toUpperCase()}USDT`);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThanOrEqual((2 * 2_000) / PARTITIONS);
  });
});

describe('subjects', () => {
  it('names md.<venue>.<kind>.<interval>.<SYMBOL>.<partition>', () => {
    const p = partitionOf('BTCUSDT');
    expect(streamSubject('binance', { kind: 'kline', symbol: 'BTCUSDT', interval: '1m' })).toBe(
      `md.binance.kline.1m.BTCUSDT.${p}`,
    );
    expect(streamSubject('binance-sim', { kind: 'trade', symbol: 'btcusdt' })).toBe(
      `md.binance-sim.trade.-.BTCUSDT.${p}`,
    );
    expect(statusSubject('binance', 'btcusdt@kline_1M')).toBe(`md.binance.status.1M.BTCUSDT.${p}`);
    expect(statusSubject('binance', FEED_STREAM)).toBe('md.binance.status.-.-.0');
  });

  it('refuses what cannot be a subject token', () => {
    expect(() => streamSubject('binance', { kind: 'trade', symbol: 'BTC.USDT' })).toThrow(RangeError);
    expect(() => statusSubject('binance', 'not a stream')).toThrow(RangeError);
  });
});
