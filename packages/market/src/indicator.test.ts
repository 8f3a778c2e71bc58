import { testCandle } from '@visualgo/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Atr, type AtrInput } from './atr.js';
import { Ema } from './ema.js';
import type { StreamingIndicator } from './indicator.js';
import { Rubberband, type RubberbandInput } from './rubberband.js';
import { Vwap, type VwapAnchor, type VwapInput, type VwapSource } from './vwap.js';

/**
 * The streaming contract of indicator.ts, checked the same way for every indicator: warm-up,
 * `replace` equals a fresh run with the last point swapped, `preview` equals `add` and changes
 * nothing. `observe` lists everything an indicator exposes, so "same state" means all of it.
 */
interface ContractCase<In, I extends StreamingIndicator<In>> {
  readonly name: string;
  readonly create: () => I;
  /** A fixed series; the result is null exactly for its first `warmUp - 1` points. */
  readonly inputs: readonly In[];
  readonly warmUp: number;
  /** A different value for point `i`, used to revise it. */
  readonly revise: (x: In, i: number) => In;
  /** Random series in time order, for the same laws as properties. */
  readonly series: fc.Arbitrary<In[]>;
  readonly observe: (indicator: I) => unknown;
}

function feed<In, I extends StreamingIndicator<In>>(indicator: I, inputs: readonly In[]): I {
  for (const x of inputs) indicator.add(x);
  return indicator;
}

function at<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new Error(`no element ${i}`);
  return x;
}

function runContract<In, I extends StreamingIndicator<In>>(c: ContractCase<In, I>): void {
  describe(`${c.name} follows the streaming contract`, () => {
    it('returns null and is not stable until warmed up, then has a result', () => {
      const indicator = c.create();
      expect(indicator.getResult()).toBeNull();
      expect(indicator.isStable).toBe(false);
      c.inputs.forEach((x, i) => {
        const returned = indicator.add(x);
        expect(returned).toBe(indicator.getResult());
        const warm = i + 1 >= c.warmUp;
        expect(indicator.isStable).toBe(warm);
        expect(indicator.getResult() === null).toBe(!warm);
      });
    });

    it('replace leaves exactly the state of a fresh run with the last point swapped', () => {
      for (let n = 1; n <= c.inputs.length; n++) {
        const revised = c.revise(at(c.inputs, n - 1), n - 1);
        const replaced = feed(c.create(), c.inputs.slice(0, n));
        expect(replaced.replace(revised)).toBe(replaced.getResult());
        const fresh = feed(c.create(), [...c.inputs.slice(0, n - 1), revised]);
        expect(c.observe(replaced)).toEqual(c.observe(fresh));
      }
    });

    it('replace can be repeated and then continued with add', () => {
      const n = Math.min(c.inputs.length - 1, c.warmUp + 1);
      const last = at(c.inputs, n - 1);
      const indicator = feed(c.create(), c.inputs.slice(0, n - 1));
      indicator.add(c.revise(last, n - 1));
      indicator.replace(c.revise(c.revise(last, n - 1), n - 1));
      indicator.replace(last);
      feed(indicator, c.inputs.slice(n));
      expect(c.observe(indicator)).toEqual(c.observe(feed(c.create(), c.inputs)));
    });

    it('replace with nothing added behaves like add', () => {
      const first = at(c.inputs, 0);
      const replaced = c.create();
      replaced.replace(first);
      expect(c.observe(replaced)).toEqual(c.observe(feed(c.create(), [first])));
    });

    it('preview returns the result add would give and changes nothing', () => {
      for (let n = 0; n < c.inputs.length; n++) {
        const x = at(c.inputs, n);
        const indicator = feed(c.create(), c.inputs.slice(0, n));
        const before = c.observe(indicator);
        const previewed = indicator.preview(c.revise(x, n));
        expect(indicator.preview(x)).toBe(feed(c.create(), c.inputs.slice(0, n + 1)).getResult());
        expect(previewed).toBe(feed(c.create(), [...c.inputs.slice(0, n), c.revise(x, n)]).getResult());
        expect(c.observe(indicator)).toEqual(before);
        indicator.add(x);
        expect(c.observe(indicator)).toEqual(c.observe(feed(c.create(), c.inputs.slice(0, n + 1))));
      }
    });

    it('satisfies replace-then-add and preview laws on random series', () => {
      fc.assert(
        fc.property(c.series, fc.nat(), (xs, pick) => {
          fc.pre(xs.length >= 2);
          const i = pick % xs.length;
          const x = at(xs, i);
          const revised = c.revise(x, i);
          // Open-candle pattern: add a provisional value, replace it, then continue with add.
          const live = feed(c.create(), xs.slice(0, i));
          const previewed = live.preview(x);
          live.add(revised);
          live.replace(x);
          expect(live.getResult()).toBe(previewed);
          feed(live, xs.slice(i + 1));
          expect(c.observe(live)).toEqual(c.observe(feed(c.create(), xs)));
        }),
      );
    });
  });
}

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2024, 0, 1, 23, 50);

/** A deterministic wobbling series; with a step of 1 minute it crosses midnight at point 10. */
function candleSeries(count: number, stepMs: number): VwapInput[] {
  return Array.from({ length: count }, (_, i) => {
    const close = 100 + 3 * Math.sin(i / 2) + i * 0.1;
    return testCandle({
      openTimeMs: T0 + i * stepMs,
      high: close + 1 + (i % 3) * 0.5,
      low: close - 1 - (i % 2) * 0.25,
      close,
      volume: 1 + (i % 5),
    });
  });
}

function reviseCandle<C extends AtrInput>(candle: C, i: number): C {
  return { ...candle, high: candle.high + 2 + (i % 3), low: candle.low - 1, close: candle.close + 1.5 };
}

const priceArb = fc.double({ min: 1, max: 1e5, noNaN: true });

/** Random valid candles in time order, some with zero volume, spanning several UTC days. */
const candleSeriesArb: fc.Arbitrary<VwapInput[]> = fc
  .array(
    fc.record({
      gapMs: fc.integer({ min: 1, max: 8 * 3_600_000 }),
      a: priceArb,
      b: priceArb,
      c: fc.double({ min: 0, max: 1, noNaN: true }),
      volume: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e4, noNaN: true })),
      t: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    { maxLength: 60 },
  )
  .map((rows) => {
    let openTimeMs = T0;
    return rows.map(({ gapMs, a, b, c, volume, t }) => {
      openTimeMs += gapMs;
      const low = Math.min(a, b);
      const high = Math.max(a, b);
      const close = low + c * (high - low);
      const traded = low + t * (high - low);
      return { ...testCandle({ openTimeMs, high, low, close, volume }), quoteVolume: traded * volume };
    });
  });

runContract({
  name: 'EMA',
  create: () => new Ema(9),
  inputs: [100, 101, 102, 101.5, 103, 104, 103.5, 105, 106, 105.5, 107, 108, 107.2, 109, 110],
  warmUp: 9,
  revise: (x, i) => x + 0.7 + i,
  series: fc.array(priceArb, { maxLength: 40 }),
  observe: (ema) => [ema.getResult(), ema.isStable],
});

runContract({
  name: 'EMA with period 1',
  create: () => new Ema(1),
  inputs: [5, 6, 7],
  warmUp: 1,
  revise: (x) => x * 2,
  series: fc.array(priceArb, { maxLength: 10 }),
  observe: (ema) => [ema.getResult(), ema.isStable],
});

runContract({
  name: 'ATR',
  create: () => new Atr(5),
  inputs: candleSeries(12, 60_000),
  warmUp: 6,
  revise: reviseCandle,
  series: candleSeriesArb,
  observe: (atr) => [atr.getResult(), atr.isStable],
});

const vwapCases: readonly [VwapAnchor, VwapSource][] = [
  ['day', 'hlc3'],
  ['day', 'trades'],
  ['week', 'hlc3'],
  ['month', 'trades'],
  ['none', 'hlc3'],
];
for (const [anchor, source] of vwapCases) {
  runContract({
    name: `VWAP (${anchor}, ${source})`,
    create: () => new Vwap({ anchor, source, bands: [1, 2.5] }),
    // Hourly steps cross 00:00 UTC after the first 10 minutes, so `day` resets mid-series.
    inputs: candleSeries(30, 3_600_000),
    warmUp: 1,
    revise: (candle, i) => ({
      ...reviseCandle(candle, i),
      volume: candle.volume * 3,
      quoteVolume: candle.quoteVolume * 2.9,
    }),
    series: candleSeriesArb,
    observe: (vwap) => [
      vwap.getResult(),
      vwap.getSigma(),
      vwap.getLowerBand(1),
      vwap.getUpperBand(0),
      vwap.isStable,
      vwap.periodStartMs,
    ],
  });
}

function rubberbandInputs(): RubberbandInput[] {
  const rows: [number, number | null, number | null, number | null, number][] = [
    [100, null, null, null, 0],
    [101, 100, null, 100, 0],
    [105, 100, 2, 101, 0], // s = 2.5 above VWAP: overbought
    [105, 100, 2, 101, 0], // still stretched, disarmed: none
    [100.5, 100, 2, 101, 0], // |s| = 0.25 < 1: re-armed
    [95, 100, 2, 99, 0], // oversold
    [104, 100, 2, 99, 0], // overbought
    [94, 100, 2, 99, 0], // disarmed below
    [94, 100, 2, 99, DAY_MS], // new anchor period: oversold again
    [94, 100, 0, 99, DAY_MS], // ATR 0: no stretch
  ];
  return rows.map(([close, ema, atr, vwap, anchorStartMs]) => ({ close, ema, atr, vwap, anchorStartMs }));
}

runContract({
  name: 'Rubberband',
  create: () => new Rubberband(2),
  inputs: rubberbandInputs().slice(1, 9),
  warmUp: 2,
  revise: (x, i) => ({ ...x, close: x.close + (i % 2 === 0 ? 5 : -5) }),
  series: fc.array(
    fc.record({
      close: fc.double({ min: 90, max: 110, noNaN: true }),
      ema: fc.option(fc.double({ min: 95, max: 105, noNaN: true })),
      atr: fc.option(fc.oneof(fc.constant(0), fc.double({ min: 0.5, max: 4, noNaN: true }))),
      vwap: fc.option(fc.double({ min: 95, max: 105, noNaN: true })),
      anchorStartMs: fc.constantFrom(0, DAY_MS, 2 * DAY_MS),
    }),
    { maxLength: 40 },
  ),
  observe: (rb) => [rb.getResult(), rb.getSignal(), rb.overboughtArmed, rb.oversoldArmed, rb.isStable],
});

describe('the contract on invalid input', () => {
  it('throws a RangeError instead of taking a non-finite value into the state', () => {
    const ema = feed(new Ema(3), [1, 2, 3]);
    expect(() => ema.add(Number.NaN)).toThrow(RangeError);
    expect(() => ema.preview(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => ema.replace(Number.NaN)).toThrow(RangeError);
    expect(ema.getResult()).toBe(2);
  });

  it('rejects periods that are not positive integers', () => {
    expect(() => new Ema(0)).toThrow(RangeError);
    expect(() => new Ema(2.5)).toThrow(RangeError);
    expect(() => new Atr(-1)).toThrow(RangeError);
  });
});
