import { type FollowOptions, follow } from './follow.js';
import type { MarketBus } from './market-bus.js';
import type { MarketEvent } from './market-event.js';

/**
 * Follows the streams someone wants, and only those, each with its own subscription held while
 * its count of wanters is above zero (a gateway's clients, reference-counted): on a bus between
 * processes, a process then receives only the streams its clients follow.
 */
export class StreamInterest {
  private readonly counts = new Map<string, { n: number; abort: AbortController }>();
  private closed = false;

  constructor(
    private readonly bus: MarketBus,
    private readonly options: Omit<FollowOptions, 'streams' | 'signal'>,
    private readonly handle: (event: MarketEvent) => void,
  ) {}

  /** Streams followed now. */
  get streams(): readonly string[] {
    return [...this.counts.keys()];
  }

  /** One more wanter of each stream; the first starts following it. */
  acquire(streams: Iterable<string>): void {
    if (this.closed) return;
    for (const stream of streams) {
      const entry = this.counts.get(stream);
      if (entry) {
        entry.n++;
        continue;
      }
      const abort = new AbortController();
      this.counts.set(stream, { n: 1, abort });
      void follow(this.bus, { ...this.options, streams: [stream], signal: abort.signal }, this.handle);
    }
  }

  /** One wanter fewer of each stream; the last stops following it. */
  release(streams: Iterable<string>): void {
    for (const stream of streams) {
      const entry = this.counts.get(stream);
      if (!entry) continue;
      if (--entry.n > 0) continue;
      this.counts.delete(stream);
      entry.abort.abort();
    }
  }

  close(): void {
    this.closed = true;
    for (const { abort } of this.counts.values()) abort.abort();
    this.counts.clear();
  }
}
