import { describe, expect, it } from 'vitest';
import { intervalCloseTimeMs, intervalOpenTimeMs, isInterval, nextOpenTimeMs } from './interval.js';

describe('intervals', () => {
  it('aligns minutes to the epoch and closes on the last millisecond', () => {
    // 2022-08-14T00:00:37Z, from the ETHUSDT sample: candle 1660435200000..1660435259999.
    expect(intervalOpenTimeMs('1m', 1660435237000)).toBe(1660435200000);
    expect(intervalCloseTimeMs('1m', 1660435200000)).toBe(1660435259999);
  });

  it('opens weeks on Monday 00:00 UTC', () => {
    // Wednesday 2024-01-03T12:00Z is in the week that opened Monday 2024-01-01.
    expect(intervalOpenTimeMs('1w', Date.UTC(2024, 0, 3, 12))).toBe(Date.UTC(2024, 0, 1));
    expect(nextOpenTimeMs('1w', Date.UTC(2024, 0, 1))).toBe(Date.UTC(2024, 0, 8));
  });

  it('opens months on the 1st and knows their length', () => {
    expect(intervalOpenTimeMs('1M', Date.UTC(2024, 1, 29, 23))).toBe(Date.UTC(2024, 1, 1));
    expect(intervalCloseTimeMs('1M', Date.UTC(2024, 1, 1))).toBe(Date.UTC(2024, 2, 1) - 1);
    expect(nextOpenTimeMs('1M', Date.UTC(2024, 11, 1))).toBe(Date.UTC(2025, 0, 1));
  });

  it('handles instants before the epoch', () => {
    expect(intervalOpenTimeMs('1h', -1)).toBe(-3_600_000);
  });

  it('rejects unknown codes', () => {
    expect(isInterval('1m')).toBe(true);
    expect(isInterval('2m')).toBe(false);
    expect(isInterval('1H')).toBe(false);
  });
});
