import { type StatusEvent, statusEvent } from '../market-event.js';

/** Gap reports remembered per stream to drop the second owner's copy. */
const REMEMBERED_GAPS = 1_024;

export interface StatusMergeOptions {
  /** Whether a producer is alive beyond what its own status says (its registry report is fresh). */
  readonly sourceAlive: (source: string) => boolean;
  /** A producer heard from within this long counts as alive whatever the registry says. */
  readonly heardWithinMs: number;
  readonly now: () => number;
}

/**
 * One stream's feed status as its subscribers see it when several producers (the two owners of a
 * shard) each report their own: one coherent feed, not one per producer.
 *
 * - Connection status is kept per producer (`FeedStatus.source`) and merged: the stream is
 *   `connected` while at least one live producer says so, `disconnected` once none does. Only a
 *   change of the merged state is delivered, so one owner losing its upstream while the other
 *   carries on is not news, and two owners connecting give one `connected`.
 * - A producer that stops reporting (kill -9: it sends nothing) leaves the merge once it is neither
 *   alive in the registry nor heard from recently; {@link review} then delivers the `disconnected`
 *   that nobody sent, when no other producer is connected.
 * - Gap reports (`gap-detected`, `gap-filled`, `gap-unfilled`) are delivered once per kind and
 *   range: the second owner reporting the same gap is dropped.
 */
export class StatusMerge {
  private readonly sources = new Map<string, { connected: boolean; heardMs: number }>();
  private delivered: 'connected' | 'disconnected' | null = null;
  private readonly gaps = new Set<string>();

  constructor(
    private readonly stream: string,
    private readonly options: StatusMergeOptions,
  ) {}

  /** The event to deliver for `event` (itself), or null when it changes nothing a subscriber sees. */
  accept(event: StatusEvent): StatusEvent | null {
    const { status } = event;
    if (status.kind !== 'connected' && status.kind !== 'disconnected') {
      const key = `${status.kind}:${status.fromOpenTimeMs}:${status.toOpenTimeMs}:${status.fromTradeId}:${status.toTradeId}`;
      if (this.gaps.has(key)) return null;
      this.gaps.add(key);
      if (this.gaps.size > REMEMBERED_GAPS) this.gaps.delete(this.gaps.values().next().value as string);
      return event;
    }
    this.sources.set(status.source ?? '', {
      connected: status.kind === 'connected',
      heardMs: this.options.now(),
    });
    const merged = this.merged();
    if (merged === this.delivered) return null;
    this.delivered = merged;
    return merged === status.kind ? event : null;
  }

  /**
   * Producers that went away without a word leave the merge: returns the `disconnected` to deliver
   * when that leaves no live producer connected, else null.
   */
  review(): StatusEvent | null {
    if (this.delivered !== 'connected' || this.merged() === 'connected') return null;
    this.delivered = 'disconnected';
    return statusEvent(this.stream, {
      kind: 'disconnected',
      detail: 'no producer of this stream is connected (the last one stopped reporting)',
      timeMs: this.options.now(),
    });
  }

  private merged(): 'connected' | 'disconnected' {
    const now = this.options.now();
    for (const [source, state] of this.sources) {
      if (!state.connected) continue;
      if (now - state.heardMs < this.options.heardWithinMs || this.options.sourceAlive(source))
        return 'connected';
    }
    return 'disconnected';
  }
}
