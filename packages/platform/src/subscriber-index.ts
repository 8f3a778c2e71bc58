const EMPTY: ReadonlySet<never> = new Set<never>();

/** Subscribers keyed by stream, so publishing an event touches only that stream's subscribers. */
export class SubscriberIndex<C> {
  private readonly byStream = new Map<string, Set<C>>();

  add(stream: string, client: C): void {
    let set = this.byStream.get(stream);
    if (!set) {
      set = new Set();
      this.byStream.set(stream, set);
    }
    set.add(client);
  }

  delete(stream: string, client: C): void {
    const set = this.byStream.get(stream);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.byStream.delete(stream);
  }

  deleteAll(streams: Iterable<string>, client: C): void {
    for (const stream of streams) this.delete(stream, client);
  }

  /** The stream's subscribers; an empty set when it has none. */
  get(stream: string): ReadonlySet<C> {
    return this.byStream.get(stream) ?? EMPTY;
  }

  /** Number of streams with at least one subscriber. */
  get streamCount(): number {
    return this.byStream.size;
  }
}
