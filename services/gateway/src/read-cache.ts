/**
 * A small cache of history reads: the same read asked again within `ttlMs` (many browsers opening
 * the same chart) is answered from the first one, in flight or done, with at most `maxEntries`
 * kept (least recently used out first). A failed read is not kept.
 */
export class ReadCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; atMs: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  read(key: string, load: () => Promise<T>): Promise<T> {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return load();
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.atMs < this.ttlMs) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    const value = load();
    this.entries.set(key, { value, atMs: now });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return value;
  }
}
