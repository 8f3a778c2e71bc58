/**
 * The indicators over two real days of Binance ETHUSDT 1m klines (2022-08-14/15, Binance public
 * data), against independent references: technicalindicators for EMA and ATR, and a direct
 * two-pass computation of the anchored VWAP and its bands per UTC day.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ATR as ReferenceAtr, EMA as ReferenceEma } from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import type { Candle } from './candle.js';
import { type IndicatorPoint, IndicatorSet } from './indicator-set.js';

const DATA_DIR = fileURLToPath(new URL('../../../../shared/data/binance-spot-ethusdt-1m/', import.meta.url));
const HAVE_DATA = existsSync(DATA_DIR);
if (!HAVE_DATA) console.warn(`indicator real-data tests: Binance klines not found at ${DATA_DIR}; skipped`);

function loadCandles(): Candle[] {
  return readdirSync(DATA_DIR)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .flatMap((f) => readFileSync(`${DATA_DIR}${f}`, 'utf8').trim().split('\n'))
    .map((line) => {
      const c = line.split(',');
      const n = (i: number) => Number(c[i]);
      return {
        type: 'candle',
        exchange: 'binance',
        symbol: 'ETHUSDT',
        interval: '1m',
        openTimeMs: n(0),
        open: n(1),
        high: n(2),
        low: n(3),
        close: n(4),
        volume: n(5),
        closeTimeMs: n(6),
        quoteVolume: n(7),
        trades: n(8),
        takerBuyVolume: n(9),
        takerBuyQuoteVolume: n(10),
        firstTradeId: -1,
        lastTradeId: -1,
        closed: true,
        eventTimeMs: n(6) + 1,
        receivedTimeMs: n(6) + 1,
      } satisfies Candle;
    });
}

function run(candles: readonly Candle[], source: 'hlc3' | 'trades'): IndicatorPoint[] {
  const set = new IndicatorSet({ vwapSource: source });
  return candles.map((c) => {
    const p = set.addClosed(c);
    if (p.type !== 'indicator-point') throw new Error(`rejected ${c.openTimeMs}: ${p.reason}`);
    return p;
  });
}

const relClose = (a: number | null | undefined, b: number, rel: number) => {
  expect(a).not.toBeNull();
  expect(Math.abs((a ?? Number.NaN) - b)).toBeLessThanOrEqual(rel * Math.abs(b));
};

describe.skipIf(!HAVE_DATA)('indicators on real ETHUSDT 1m data', () => {
  const candles = HAVE_DATA ? loadCandles() : [];

  it('reads two full days without gaps', () => {
    expect(candles).toHaveLength(2_880);
    for (let i = 1; i < candles.length; i++) {
      expect((candles[i]?.openTimeMs ?? 0) - (candles[i - 1]?.openTimeMs ?? 0)).toBe(60_000);
    }
  });

  it('EMA(9) and ATR(14) equal technicalindicators run from each epoch chain start, and the full history to 1e-9', () => {
    const points = run(candles, 'hlc3');
    const reference = (from: number) => {
      const slice = candles.slice(from);
      const ema = ReferenceEma.calculate({ period: 9, values: slice.map((c) => c.close) });
      const atr = ReferenceAtr.calculate({
        period: 14,
        high: slice.map((c) => c.high),
        low: slice.map((c) => c.low),
        close: slice.map((c) => c.close),
      });
      // Index i of the slice: EMA from its 9th candle, ATR from its 15th.
      return { ema: (i: number) => ema[i - 8], atr: (i: number) => atr[i - 14] };
    };
    // The series starts at 2022-08-14 00:00: the first day's chain is the full history; the
    // second day's chain starts 388 minutes before its midnight, at 17:32.
    const full = reference(0);
    const secondChainStart = 1_440 - 388;
    const second = reference(secondChainStart);
    expect(points.slice(0, 8).every((p) => p.ema === null)).toBe(true);
    expect(points.slice(0, 14).every((p) => p.atr === null)).toBe(true);
    for (let i = 14; i < candles.length; i++) {
      const p = points[i];
      const chain = i < 1_440 ? { ref: full, at: i } : { ref: second, at: i - secondChainStart };
      relClose(p?.ema, chain.ref.ema(chain.at) ?? Number.NaN, 1e-12);
      relClose(p?.atr, chain.ref.atr(chain.at) ?? Number.NaN, 1e-12);
      relClose(p?.ema, full.ema(i) ?? Number.NaN, 1e-9);
      relClose(p?.atr, full.atr(i) ?? Number.NaN, 1e-9);
    }
  });

  it('gives the same values, bit for bit, whenever computing started, for the candles it must cover', () => {
    const reference = run(candles, 'hlc3');
    const set = new IndicatorSet();
    // 2022-08-15 at 00:05, 16:40 and 23:59: each start computes from 2022-08-14 17:32.
    for (const minuteOfDay of [5, 16 * 60 + 40, 23 * 60 + 59]) {
      const firstPoint = candles[1_440 + minuteOfDay]?.openTimeMs ?? 0;
      const from = set.origin.computeFromMs('1m', 'day', firstPoint);
      const fromIndex = candles.findIndex((c) => c.openTimeMs === from);
      expect(fromIndex).toBe(1_440 - 388);
      const late = new IndicatorSet();
      late.markCompleteFrom(from);
      const points = candles.slice(fromIndex).map((c) => late.addClosed(c));
      for (let i = 1_440 + minuteOfDay; i < candles.length; i++) {
        const p = points[i - fromIndex];
        expect(p).toEqual(reference[i]);
        expect(p).toMatchObject({ vwapPartial: false, converged: true });
      }
    }
  });

  it('anchored VWAP and its bands match a direct computation per UTC day, for both sources', () => {
    for (const source of ['hlc3', 'trades'] as const) {
      const points = run(candles, source);
      for (let i = 0; i < candles.length; i++) {
        const dayStart = candles[i]?.openTimeMs ?? 0;
        const day = dayStart - (dayStart % 86_400_000);
        const period = candles.slice(0, i + 1).filter((c) => c.openTimeMs >= day);
        const price = (c: Candle) =>
          source === 'hlc3' ? (c.high + c.low + c.close) / 3 : c.quoteVolume / c.volume;
        const volume = period.reduce((s, c) => s + c.volume, 0);
        const vwap = period.reduce((s, c) => s + price(c) * c.volume, 0) / volume;
        // Two-pass variance: no cancellation between two large sums.
        const sigma = Math.sqrt(period.reduce((s, c) => s + c.volume * (price(c) - vwap) ** 2, 0) / volume);
        const p = points[i];
        relClose(p?.vwap, vwap, 1e-11);
        expect(Math.abs((p?.vwapSigma ?? Number.NaN) - sigma)).toBeLessThanOrEqual(1e-6 * sigma + 1e-9);
        const band2 = p?.vwapBands?.[1];
        expect(band2?.multiplier).toBe(2);
        relClose(band2?.upper, vwap + 2 * sigma, 1e-9);
        relClose(band2?.lower, vwap - 2 * sigma, 1e-9);
      }
    }
  });

  it('resets the VWAP at 00:00 UTC between the two days', () => {
    const points = run(candles, 'hlc3');
    const first = candles[1_440];
    if (!first) throw new Error('missing second day');
    expect(points[1_440]?.vwap).toBeCloseTo((first.high + first.low + first.close) / 3, 10);
  });
});
