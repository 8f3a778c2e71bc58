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

  it('jumps forward at once and runs on at the same speed, paused or not; never backwards', () => {
    let wall = 0;
    const clock = new ScaledClock(1_000_000, 10, () => wall);
    wall = 100;
    clock.jump(600_000);
    expect(clock.nowMs()).toBe(1_601_000);
    wall = 200;
    expect(clock.nowMs()).toBe(1_602_000);
    clock.pause();
    clock.jump(60_000);
    expect(clock.nowMs()).toBe(1_662_000);
    clock.resume();
    wall = 300;
    expect(clock.nowMs()).toBe(1_663_000);
    expect(() => clock.jump(-1)).toThrow(RangeError);
  });

  it('changes speed from where market time is, without a jump', () => {
    let wall = 0;
    const clock = new ScaledClock(0, 10, () => wall);
    wall = 1_000;
    clock.setSpeed(100);
    expect([clock.nowMs(), clock.speed]).toEqual([10_000, 100]);
    wall = 1_010;
    expect(clock.nowMs()).toBe(11_000);
    clock.pause();
    clock.setSpeed(1);
    wall = 5_000;
    clock.resume();
    wall = 5_010;
    expect(clock.nowMs()).toBe(11_010);
    expect(() => clock.setSpeed(0)).toThrow(RangeError);
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

describe('end of data', () => {
  it('stops every clock at its end', () => {
    let wall = 0;
    const scaled = new ScaledClock(1_000, 10, () => wall, 5_000);
    wall = 300;
    expect(scaled.nowMs()).toBe(4_000);
    wall = 10_000;
    expect(scaled.nowMs()).toBe(5_000);
    const manual = new ManualClock(1_000, 5_000);
    manual.advance(3_000);
    manual.advance(3_000);
    expect(manual.nowMs()).toBe(5_000);
    const paced = new ManualClock(1_000, 2_000, 'paced');
    paced.advance(10_000);
    expect([paced.kind, paced.nowMs()]).toEqual(['paced', 2_000]);
  });
});
