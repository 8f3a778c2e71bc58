/**
 * Median of the last `size` lag samples (ms from exchange event time to the frame that drew it).
 * A ring buffer: constant memory however long the page stays open.
 */
export class LagMeter {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  add(lagMs: number): void {
    if (!Number.isFinite(lagMs)) return;
    if (this.samples.length < this.size) this.samples.push(lagMs);
    else this.samples[this.next] = lagMs;
    this.next = (this.next + 1) % this.size;
  }

  clear(): void {
    this.samples.length = 0;
    this.next = 0;
  }

  median(): number | null {
    if (this.samples.length === 0) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const m = sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
    return m ?? null;
  }
}
