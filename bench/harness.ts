/** A tiny benchmark harness: warm-up, repeated timed runs, median, heap readings. */
export interface Measurement {
  readonly name: string;
  /** Median nanoseconds per operation over the runs. */
  readonly nsPerOp: number;
  readonly opsPerSec: number;
}

export function measure(name: string, ops: number, fn: () => void, runs = 7): Measurement {
  fn(); // warm-up: JIT and caches
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / ops);
  }
  samples.sort((a, b) => a - b);
  const nsPerOp = samples[Math.floor(samples.length / 2)] ?? Number.NaN;
  return { name, nsPerOp, opsPerSec: 1e9 / nsPerOp };
}

export async function measureAsync(
  name: string,
  ops: number,
  fn: () => Promise<void>,
  runs = 5,
): Promise<Measurement> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / ops);
  }
  samples.sort((a, b) => a - b);
  const nsPerOp = samples[Math.floor(samples.length / 2)] ?? Number.NaN;
  return { name, nsPerOp, opsPerSec: 1e9 / nsPerOp };
}

/**
 * Bytes in use after a full collection: the JS heap plus the backing stores of ArrayBuffers
 * (typed arrays keep their data outside the heap).
 */
export function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export interface Check {
  readonly name: string;
  /** What is measured relative to what, e.g. "IndicatorSet.addClosed / floor loop". */
  readonly ratio: number;
  /** The target: ratio must be at most this (or at least, with `atLeast`). */
  readonly limit: number;
  readonly atLeast?: boolean;
  readonly detail: string;
  /**
   * Whether a miss fails the run. Default true. Timing checks are not gating in the quick mode
   * (`npm run bench`, which CI runs): a busy machine must not fail CI, only lost messages or crashes.
   */
  readonly gating?: boolean;
}

export function passed(c: Check): boolean {
  return c.atLeast ? c.ratio >= c.limit : c.ratio <= c.limit;
}

/** A check as it counts in a run: in quick mode only delivery and correctness checks gate. */
export function gates(c: Check): boolean {
  return c.gating !== false;
}
