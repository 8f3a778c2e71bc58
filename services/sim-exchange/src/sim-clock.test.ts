import { describe, expect, it } from 'vitest';
import { ManualClock, ScaledClock } from './sim-clock.js';

describe('ScaledClock', () => {
  it('runs at speed times wall time from the start and freezes while paused', () => {
    let wall = 1_000;
    const clock = new ScaledClock(5_000_000, 60, () => wall);
    expect(clock.nowMs()).toBe(5_000_000);
    wall += 1_000;
    expect(clock.nowMs()).toBe(5_060_000);
    clock.pause();
    wall += 10_000;
    expect(clock.nowMs()).toBe(5_060_000);
    clock.resume();
    wall += 500;
    expect(clock.nowMs()).toBe(5_090_000);
  });

  it('rejects a non-positive speed', () => {
    expect(() => new ScaledClock(0, 0)).toThrow(RangeError);
  });
});

describe('ManualClock', () => {
  it('moves only when advanced, never backwards, not while paused', () => {
    const clock = new ManualClock(100);
    clock.advance(50);
    expect(clock.nowMs()).toBe(150);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    clock.pause();
    clock.advance(50);
    expect(clock.nowMs()).toBe(150);
  });
});
