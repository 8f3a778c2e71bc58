import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rubberband, type RubberbandInput, type RubberbandSignal, rubberbandStretch } from './rubberband.js';

const DAY_MS = 86_400_000;

/** EMA 100 and ATR 2 throughout, so close = 100 + 2s. */
function at(close: number, vwap: number | null, anchorStartMs = 0): RubberbandInput {
  return { close, ema: 100, atr: 2, vwap, anchorStartMs };
}

function signals(rb: Rubberband, inputs: readonly RubberbandInput[]): RubberbandSignal[] {
  return inputs.map((x) => {
    rb.add(x);
    return rb.getSignal();
  });
}

describe('rubberbandStretch', () => {
  it('is the distance from the EMA in ATRs', () => {
    expect(rubberbandStretch(104.5, 100, 2)).toBe(2.25);
    expect(rubberbandStretch(96, 100, 2)).toBe(-2);
  });

  it('is null without an EMA or ATR, or with an ATR of zero', () => {
    expect(rubberbandStretch(100, null, 2)).toBeNull();
    expect(rubberbandStretch(100, 100, null)).toBeNull();
    expect(rubberbandStretch(100, 100, 0)).toBeNull();
  });
});

describe('Rubberband', () => {
  it('follows the worked example: overbought above the VWAP, none below it', () => {
    expect(signals(new Rubberband(2), [at(104.5, 101)])).toEqual(['overbought']);
    expect(signals(new Rubberband(2), [at(104.5, 105)])).toEqual(['none']);
    expect(signals(new Rubberband(2), [at(95.5, 95)])).toEqual(['none']);
    expect(signals(new Rubberband(2), [at(95.5, 99)])).toEqual(['oversold']);
  });

  it('treats K as inclusive on both sides', () => {
    expect(signals(new Rubberband(2), [at(104, 101)])).toEqual(['overbought']);
    expect(signals(new Rubberband(2), [at(96, 99)])).toEqual(['oversold']);
    expect(signals(new Rubberband(2), [at(103.99, 101)])).toEqual(['none']);
  });

  it('fires both sides on a constructed series and re-arms only below K/2', () => {
    const rb = new Rubberband(2);
    const series = [
      at(101, 100), // s 0.5
      at(105, 101), // s 2.5: overbought
      at(106, 101), // s 3, disarmed
      at(102.5, 101), // s 1.25, not yet below K/2 = 1
      at(105, 101), // still disarmed
      at(91, 99), // s -4.5: oversold fires, its own side was armed
      at(92, 99), // s -4, disarmed
      at(101.9, 99), // s 0.95 < 1: both sides re-armed
      at(105, 101), // overbought again
      at(91, 99), // oversold again
    ];
    expect(signals(rb, series)).toEqual([
      'none',
      'overbought',
      'none',
      'none',
      'none',
      'oversold',
      'none',
      'none',
      'overbought',
      'oversold',
    ]);
  });

  it('does not re-arm at exactly |s| = K/2, only below it', () => {
    // Mutation guard: re-arming at |s| <= K/2 would fire the second overbought here.
    const rb = new Rubberband(2);
    expect(
      signals(rb, [
        at(105, 101), // s 2.5: overbought
        at(102, 101), // s 1 = K/2 exactly: still disarmed
        at(98, 101), // s -1 = -K/2 exactly: still disarmed
        at(105, 101), // so no signal
        at(101.99, 101), // s 0.995 < 1: re-armed
        at(105, 101), // overbought again
      ]),
    ).toEqual(['overbought', 'none', 'none', 'none', 'none', 'overbought']);
  });

  it('re-arms when the VWAP anchor period resets', () => {
    const rb = new Rubberband(2);
    expect(
      signals(rb, [at(105, 101, 0), at(105, 101, 0), at(105, 101, DAY_MS), at(105, 101, DAY_MS)]),
    ).toEqual(['overbought', 'none', 'overbought', 'none']);
  });

  it('gives no signal and keeps its arming when an input is missing or the ATR is zero', () => {
    const rb = new Rubberband(2);
    rb.add(at(105, 101));
    for (const x of [{ ...at(105, 101), atr: 0 }, { ...at(105, 101), ema: null }, at(105, null)]) {
      rb.add(x);
      expect(rb.getSignal()).toBe('none');
    }
    expect(rb.getResult()).toBe(2.5);
    expect(rb.overboughtArmed).toBe(false);
  });

  it('previews a signal without changing the arming', () => {
    const rb = new Rubberband(2);
    expect(rb.previewSignal(at(105, 101))).toBe('overbought');
    expect(rb.previewSignal(at(105, 101))).toBe('overbought');
    expect(rb.overboughtArmed).toBe(true);
    rb.add(at(105, 101));
    expect(rb.previewSignal(at(106, 101))).toBe('none');
    expect(rb.previewSignal(at(106, 101, DAY_MS))).toBe('overbought');
    expect(rb.overboughtArmed).toBe(false);
    expect(rb.getSignal()).toBe('overbought');
  });

  it('fires exactly when an armed side is stretched and confirmed (model check)', () => {
    const inputArb = fc.record({
      close: fc.double({ min: 90, max: 110, noNaN: true }),
      ema: fc.constant(100),
      atr: fc.double({ min: 0.5, max: 3, noNaN: true }),
      vwap: fc.double({ min: 95, max: 105, noNaN: true }),
      anchorStartMs: fc.constantFrom(0, DAY_MS),
    });
    fc.assert(
      fc.property(fc.array(inputArb, { maxLength: 60 }), (inputs) => {
        const rb = new Rubberband(2);
        let armedUp = true;
        let armedDown = true;
        let lastAnchor: number | null = null;
        for (const x of inputs) {
          const s = (x.close - 100) / x.atr;
          if (Math.abs(s) < 1 || (lastAnchor !== null && x.anchorStartMs !== lastAnchor)) {
            armedUp = true;
            armedDown = true;
          }
          lastAnchor = x.anchorStartMs;
          let expected: RubberbandSignal = 'none';
          if (s >= 2 && x.close > x.vwap && armedUp) {
            expected = 'overbought';
            armedUp = false;
          } else if (s <= -2 && x.close < x.vwap && armedDown) {
            expected = 'oversold';
            armedDown = false;
          }
          expect(rb.previewSignal(x)).toBe(expected);
          rb.add(x);
          expect(rb.getResult()).toBe(s);
          expect(rb.getSignal()).toBe(expected);
          expect([rb.overboughtArmed, rb.oversoldArmed]).toEqual([armedUp, armedDown]);
        }
      }),
    );
  });

  it('rejects a non-positive K', () => {
    expect(() => new Rubberband(0)).toThrow(RangeError);
  });
});
