import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PacedPump } from './paced-pump.js';
import { ManualClock } from './sim-clock.js';

describe('PacedPump', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(end = 100_000) {
    const clock = new ManualClock(0, end, 'paced');
    const state = { connections: 0, backlog: 0, pumps: 0 };
    const pump = new PacedPump({
      clock,
      pump: () => {
        state.pumps++;
      },
      takers: () => state.connections,
      backlogBytes: () => state.backlog,
      sliceMs: 1,
    });
    return { clock, state, pump };
  }

  it('holds market time while no stream client is connected, then runs to the end', () => {
    const { clock, state, pump } = setup();
    vi.advanceTimersByTime(1_000);
    expect(clock.nowMs()).toBe(0);
    state.connections = 1;
    vi.advanceTimersByTime(1_000);
    expect(clock.nowMs()).toBe(100_000);
    expect(state.pumps).toBe(100);
    pump.stop();
  });

  it('waits while a reader has more than the high-water mark waiting, and goes on once it drains', () => {
    const { clock, state, pump } = setup();
    state.connections = 1;
    state.backlog = 1024 * 1024;
    vi.advanceTimersByTime(1_000);
    expect(clock.nowMs()).toBe(0);
    state.backlog = 0;
    vi.advanceTimersByTime(1_000);
    expect(clock.nowMs()).toBe(100_000);
    pump.stop();
  });

  it('does not move a paused market, and stops for good when stopped', () => {
    const { clock, state, pump } = setup(Number.POSITIVE_INFINITY);
    state.connections = 1;
    clock.pause();
    vi.advanceTimersByTime(1_000);
    expect(clock.nowMs()).toBe(0);
    clock.resume();
    pump.stop();
    vi.advanceTimersByTime(1_000);
    expect(clock.nowMs()).toBe(0);
  });
});
