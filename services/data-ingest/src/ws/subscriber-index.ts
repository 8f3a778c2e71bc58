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

  get(stream: string): ReadonlySet<C> | undefined {
    return this.byStream.get(stream);
  }

  /** Number of streams with at least one subscriber. */
  get streamCount(): number {
    return this.byStream.size;
  }
}
