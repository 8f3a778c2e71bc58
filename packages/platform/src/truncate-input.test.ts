import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundMessage, ECHO_MAX_CHARS, listForMessage, truncateInput } from './truncate-input.js';

describe('truncateInput', () => {
  it('keeps short input and cuts long input, saying how much was cut', () => {
    expect(truncateInput('btcusdt@kline_1m')).toBe('btcusdt@kline_1m');
    expect(truncateInput('a'.repeat(64))).toBe('a'.repeat(64));
    expect(truncateInput('a'.repeat(10_000))).toBe(`${'a'.repeat(64)}…(9936 more chars)`);
    expect(truncateInput('abcdef', 3)).toBe('abc…(3 more chars)');
  });

  it('never splits a surrogate pair', () => {
    const text = `${'a'.repeat(63)}😀${'b'.repeat(10)}`;
    expect(truncateInput(text)).toBe(`${'a'.repeat(63)}…(12 more chars)`);
  });

  it('bounds any input to a small size (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 5_000 }),
        fc.integer({ min: 1, max: 300 }),
        (s, max) => {
          const out = truncateInput(s, max);
          expect(out.length).toBeLessThanOrEqual(max + 24);
          if (s.length <= max) expect(out).toBe(s);
          else expect(s.startsWith(out.slice(0, out.indexOf('…')))).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('boundMessage and listForMessage', () => {
  it('bounds a message and lists names within a budget', () => {
    expect(boundMessage('x'.repeat(600)).length).toBe(512);
    expect(boundMessage('short')).toBe('short');
    expect(listForMessage([])).toBe('(none)');
    expect(listForMessage(['a', 'b'])).toBe('a, b');
    const many = Array.from({ length: 100 }, (_, i) => `sym${i}usdt@kline_1m`);
    const listed = listForMessage(many);
    expect(listed.length).toBeLessThan(260);
    expect(listed).toMatch(/^sym0usdt@kline_1m, sym1usdt@kline_1m, .* and \d+ more$/);
    expect(listForMessage(['z'.repeat(1_000)])).toBe(`${'z'.repeat(ECHO_MAX_CHARS)}…(936 more chars)`);
  });
});
