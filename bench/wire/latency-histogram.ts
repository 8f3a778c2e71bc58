import type { LatencySummary } from './protocol.js';

const FINE_US = 10;
const FINE_BUCKETS = 10_000; // 10 µs buckets up to 100 ms
const COARSE_US = 1_000;
const COARSE_BUCKETS = 120_000; // then 1 ms buckets up to 120 s

/** Latencies in fixed buckets (10 µs to 100 ms, then 1 ms): constant memory whatever the count. */
export class LatencyHistogram {
  private readonly fine = new Uint32Array(FINE_BUCKETS);
  private readonly coarse = new Uint32Array(COARSE_BUCKETS);
  private total = 0;
  private maxUs = 0;

  record(us: number): void {
    const v = Math.max(us, 0);
    if (v > this.maxUs) this.maxUs = v;
    this.total++;
    if (v < FINE_US * FINE_BUCKETS) {
      const i = Math.floor(v / FINE_US);
      this.fine[i] = (this.fine[i] ?? 0) + 1;
    } else {
      const i = Math.min(COARSE_BUCKETS - 1, Math.floor(v / COARSE_US));
      this.coarse[i] = (this.coarse[i] ?? 0) + 1;
    }
  }

  get count(): number {
    return this.total;
  }

  /** Upper edge of the bucket holding the p-th quantile, in ms. */
  percentileMs(p: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.ceil(p * this.total);
    let seen = 0;
    for (let i = 0; i < FINE_BUCKETS; i++) {
      seen += this.fine[i] ?? 0;
      if (seen >= rank) return ((i + 1) * FINE_US) / 1000;
    }
    for (let i = 0; i < COARSE_BUCKETS; i++) {
      seen += this.coarse[i] ?? 0;
      if (seen >= rank) return ((i + 1) * COARSE_US) / 1000;
    }
    return this.maxUs / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      p50Ms: this.percentileMs(0.5),
      p90Ms: this.percentileMs(0.9),
      p99Ms: this.percentileMs(0.99),
      p999Ms: this.percentileMs(0.999),
      maxMs: this.maxUs / 1000,
    };
  }
}
