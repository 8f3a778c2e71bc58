/** Which clients receive each stream's live messages: a set per stream, so a broadcast touches only them. */
export class SubscriptionIndex<C> {
  private readonly byStream = new Map<string, Set<C>>();

  add(stream: string, client: C): void {
    let set = this.byStream.get(stream);
    if (!set) {
      set = new Set();
      this.byStream.set(stream, set);
    }
    set.add(client);
  }

  remove(stream: string, client: C): void {
    const set = this.byStream.get(stream);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.byStream.delete(stream);
  }

  removeAll(streams: Iterable<string>, client: C): void {
    for (const stream of streams) this.remove(stream, client);
  }

  subscribers(stream: string): ReadonlySet<C> {
    return this.byStream.get(stream) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<never> = new Set<never>();
