import { binanceKlineEvent, binanceTradeEvent } from '@visualgo/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MarketFeed } from './market-feed.js';
import { MarketModel } from './market-model.js';
import { ModelSource } from './model-source.js';

const ORIGIN = Date.UTC(2025, 0, 1);
const START = ORIGIN + 3_600_000;

function feed(): MarketFeed {
  const model = new MarketModel({ seed: 'feed', originMs: ORIGIN });
  const histories = new Map(['BTCUSDT', 'ETHUSDT'].map((s) => [s, new ModelSource(model.symbol(s))]));
  const f = new MarketFeed((s) => histories.get(s) ?? null, START);
  f.setInterest([
    'btcusdt@trade',
    'btcusdt@kline_1m',
    'ethusdt@kline_1s',
    'ethusdt@aggTrade',
    'xyzusdt@trade',
  ]);
  return f;
}

describe('MarketFeed', () => {
  it('emits the same events however market time is chunked', () => {
    const end = START + 150_000;
    const whole = feed().advance(end);
    expect(whole.length).toBeGreaterThan(300);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: START + 1, max: end - 1 }), { maxLength: 20 }), (cuts) => {
        const f = feed();
        const events = [...cuts.sort((a, b) => a - b), end].flatMap((t) => f.advance(t));
        expect(events).toEqual(whole);
      }),
      { numRuns: 20 },
    );
  });

  it('orders each kline tick after the trades before it and before the trades at its time', () => {
    const events = feed().advance(START + 60_000);
    let lastTime = 0;
    for (const e of events) {
      expect(e.timeMs).toBeGreaterThanOrEqual(lastTime);
      lastTime = e.timeMs;
    }
    const btc = events.filter((e) => e.stream.startsWith('btcusdt'));
    const final = btc.findIndex(
      (e) => e.stream === 'btcusdt@kline_1m' && binanceKlineEvent.parse(JSON.parse(e.json)).k.x,
    );
    const finalKline = binanceKlineEvent.parse(JSON.parse(btc[final]?.json ?? ''));
    const tradesBefore = btc.slice(0, final).filter((e) => e.stream === 'btcusdt@trade');
    expect(finalKline.k.n).toBe(tradesBefore.length);
    expect(finalKline.k.L).toBe(binanceTradeEvent.parse(JSON.parse(tradesBefore.at(-1)?.json ?? '')).t);
  });

  it('sends 1s klines once a second, each final', () => {
    const events = feed()
      .advance(START + 5_000)
      .filter((e) => e.stream === 'ethusdt@kline_1s');
    const parsed = events.map((e) => binanceKlineEvent.parse(JSON.parse(e.json)));
    expect(parsed.map((k) => [k.E, k.k.t, k.k.x])).toEqual(
      [1, 2, 3, 4, 5].map((i) => [START + i * 1_000, START + (i - 1) * 1_000, true]),
    );
  });

  it('ignores streams of symbols it does not simulate and stops when interest ends', () => {
    const f = feed();
    expect(f.advance(START + 10_000).some((e) => e.stream.startsWith('xyz'))).toBe(false);
    f.setInterest([]);
    expect(f.advance(START + 20_000)).toEqual([]);
  });
});
