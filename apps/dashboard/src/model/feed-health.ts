import type { StatusMessage } from '@visualgo/contracts/algo';

/** A gap in the candle series that the backend reported, with its latest state. */
export interface ReportedGap {
  readonly scope: StatusMessage['scope'];
  readonly stream: string | null;
  readonly fromOpenTimeMs: number | null;
  readonly toOpenTimeMs: number | null;
  readonly state: 'gap-detected' | 'gap-filled' | 'gap-unfilled';
  readonly detail: string | null;
  readonly timeMs: number;
}

/** The backend's own view of its links, from `status` messages. */
export interface BackendLink {
  readonly state: 'connected' | 'disconnected';
  readonly detail: string | null;
  readonly sinceMs: number;
}

export interface FeedHealthView {
  /** trading-algo's gRPC link to data-ingest; null until a status said. */
  readonly feed: BackendLink | null;
  /** data-ingest's link to the exchange, relayed; null until a status said. */
  readonly upstream: BackendLink | null;
  /** Newest first. */
  readonly gaps: readonly ReportedGap[];
}

const MAX_GAPS = 50;

/**
 * Folds `status` messages into what the page shows: the state of each backend link, and the gaps
 * reported for the stream on view (a gap's later `gap-filled`/`gap-unfilled` replaces its
 * `gap-detected`). Bounded: the newest {@link MAX_GAPS} gaps are kept.
 */
export class FeedHealth {
  private feed: BackendLink | null = null;
  private upstream: BackendLink | null = null;
  private gaps: ReportedGap[] = [];
  private view: FeedHealthView | null = null;

  apply(message: StatusMessage, stream: string | null): void {
    this.view = null;
    if (message.state === 'connected' || message.state === 'disconnected') {
      if (message.stream !== null && message.stream !== stream) return;
      const link: BackendLink = { state: message.state, detail: message.detail, sinceMs: message.timeMs };
      if (message.scope === 'feed') this.feed = link;
      else this.upstream = link;
      return;
    }
    if (message.stream !== null && message.stream !== stream) return;
    const gap: ReportedGap = {
      scope: message.scope,
      stream: message.stream,
      fromOpenTimeMs: message.fromOpenTimeMs,
      toOpenTimeMs: message.toOpenTimeMs,
      state: message.state,
      detail: message.detail,
      timeMs: message.timeMs,
    };
    const same = this.gaps.findIndex(
      (g) =>
        g.stream === gap.stream &&
        g.fromOpenTimeMs === gap.fromOpenTimeMs &&
        g.toOpenTimeMs === gap.toOpenTimeMs,
    );
    if (same >= 0) this.gaps.splice(same, 1);
    this.gaps.unshift(gap);
    if (this.gaps.length > MAX_GAPS) this.gaps.length = MAX_GAPS;
  }

  /** The gaps of another stream no longer apply when the view switches. */
  resetStream(): void {
    this.gaps = [];
    this.view = null;
  }

  snapshot(): FeedHealthView {
    this.view ??= { feed: this.feed, upstream: this.upstream, gaps: [...this.gaps] };
    return this.view;
  }
}
