import { describe, expect, it } from 'vitest';
import { indicator, point, snapshot } from '../testing/fakes.js';
import { SeriesStore } from './series-store.js';

describe('SeriesStore', () => {
  it('takes a snapshot as the whole series, oldest first, and a later snapshot replaces it', () => {
    const store = new SeriesStore();
    expect(store.applySnapshot(snapshot([point(2), point(0), point(1)]))).toEqual({ kind: 'reset' });
    expect(store.finals.map((p) => p.openTimeMs)).toEqual(
      [point(0), point(1), point(2)].map((p) => p.openTimeMs),
    );
    expect(store.streamMeta).toEqual({
      stream: 'btcusdt@kline_1m',
      exchange: 'binance-sim',
      symbol: 'BTCUSDT',
      interval: '1m',
    });
    store.applySnapshot(snapshot([point(5, { close: 7 })]));
    expect(store.finals).toEqual([point(5, { close: 7 })]);
  });

  it('shows the open candle provisionally, then replaces it with its final point', () => {
    const store = new SeriesStore();
    store.applySnapshot(snapshot([point(0)]));
    const open1 = point(1, { final: false, close: 101.2 });
    expect(store.applyIndicator(indicator(open1))).toEqual({ kind: 'tail', points: [open1] });
    const open2 = point(1, { final: false, close: 101.7 });
    store.applyIndicator(indicator(open2));
    expect(store.provisional).toEqual(open2);
    expect(store.finals).toHaveLength(1);
    const closed = point(1);
    expect(store.applyIndicator(indicator(closed))).toEqual({ kind: 'tail', points: [closed] });
    expect(store.provisional).toBeNull();
    expect(store.finals.at(-1)).toEqual(closed);
  });

  it('refuses stale updates: an older final point, a provisional point of a closed candle', () => {
    const store = new SeriesStore();
    store.applySnapshot(snapshot([point(0), point(1)]));
    expect(store.applyIndicator(indicator(point(0, { close: 1 })))).toBeNull();
    expect(store.applyIndicator(indicator(point(1, { final: false })))).toBeNull();
    expect(store.rejections).toEqual({ staleFinal: 1, staleProvisional: 1 });
    expect(store.finals.map((p) => p.close)).toEqual([100, 101]);
  });

  it('redraws when a provisional candle is overtaken by a later final one (the backend skipped it)', () => {
    const store = new SeriesStore();
    store.applySnapshot(snapshot([point(0)]));
    store.applyIndicator(indicator(point(1, { final: false })));
    expect(store.applyIndicator(indicator(point(2)))).toEqual({ kind: 'reset' });
    expect(store.provisional).toBeNull();
  });

  it('ignores indicator messages of another stream', () => {
    const store = new SeriesStore();
    store.applySnapshot(snapshot([point(0)]));
    expect(store.applyIndicator(indicator(point(1), 'ethusdt@kline_1m'))).toBeNull();
    expect(store.finals).toHaveLength(1);
  });

  it('adds older points in front on scroll-back, never ones it already covers', () => {
    const store = new SeriesStore();
    store.applySnapshot(snapshot([point(10), point(11)]));
    expect(store.prependOlder([point(8), point(9), point(10, { close: 0 }), point(9)])).toBe(2);
    expect(store.finals.map((p) => p.openTimeMs - point(0).openTimeMs)).toEqual(
      [8, 9, 10, 11].map((n) => n * 60_000),
    );
    expect(store.finals[2]?.close).toBe(110);
    expect(store.prependOlder([point(11)])).toBe(0);
  });

  it('trims the oldest points beyond the cap, rarely (with slack)', () => {
    const store = new SeriesStore();
    store.applySnapshot(snapshot(Array.from({ length: 14 }, (_, i) => point(i))));
    expect(store.trim(10, 5)).toBe(false);
    store.applyIndicator(indicator(point(14)));
    store.applyIndicator(indicator(point(15)));
    expect(store.trim(10, 5)).toBe(true);
    expect(store.finals.map((p) => p.close)).toEqual(Array.from({ length: 10 }, (_, i) => 106 + i));
  });
});
