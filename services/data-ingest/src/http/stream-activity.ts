import { FEED_STREAM, type FeedStatusKind, follow, type MarketBus } from '@visualgo/bus';
import { formatStreamName } from '@visualgo/market';
import type { IngestView } from '../hub/ingest-view.js';

export interface StreamActivitySnapshot {
  readonly stream: string;
  readonly events: number;
  /** Exchange time of the last event; null before the first. */
  readonly lastEventTimeMs: number | null;
  readonly lastReceivedTimeMs: number | null;
  /** Milliseconds since the last event was received. */
  readonly lastEventAgeMs: number | null;
  readonly lastStatus: FeedStatusKind | null;
  /** `stalled` while connected but accepting no events (see `StreamLiveness`), else `ok`. */
  readonly health: 'ok' | 'stalled';
  /** Why it is stalled; null when ok. */
  readonly problem: string | null;
}

interface Activity {
  events: number;
  lastEventTimeMs: number | null;
  lastReceivedTimeMs: number | null;
  lastStatus: FeedStatusKind | null;
}

/** Per-stream last event and last feed status, for `/healthz`, followed on the bus. */
export class StreamActivity {
  private readonly byStream = new Map<string, Activity>();
  private readonly abort = new AbortController();
  private readonly names: readonly string[];
  readonly following: Promise<void>;

  constructor(
    bus: MarketBus,
    private readonly view: IngestView,
    private readonly now: () => number = Date.now,
    /** Follow each stream's events (default); false: only feed status (a gateway does not follow every stream). */
    followStreams = true,
  ) {
    this.names = followStreams ? view.streams().map(formatStreamName) : [];
    // Counters only: after being cut off (a blocked event loop) they simply go on.
    this.following = follow(
      bus,
      { streams: [...this.names, FEED_STREAM], signal: this.abort.signal, maxQueued: 100_000 },
      (event) => {
        if (event.type === 'status') {
          const streams = event.stream === FEED_STREAM ? this.names : [event.stream];
          for (const stream of streams) this.activity(stream).lastStatus = event.status.kind;
          return;
        }
        const a = this.activity(event.stream);
        const data = event.type === 'candle' ? event.candle : event.trade;
        a.events++;
        a.lastEventTimeMs = data.eventTimeMs;
        a.lastReceivedTimeMs = data.receivedTimeMs;
      },
    );
  }

  snapshot(): StreamActivitySnapshot[] {
    const t = this.now();
    const stalls = new Map(this.view.stalledStreams().map((s) => [s.stream, s.reason]));
    return this.names.map((stream) => {
      const a = this.byStream.get(stream);
      const received = a?.lastReceivedTimeMs ?? null;
      return {
        stream,
        events: a?.events ?? 0,
        lastEventTimeMs: a?.lastEventTimeMs ?? null,
        lastReceivedTimeMs: received,
        lastEventAgeMs: received === null ? null : t - received,
        lastStatus: a?.lastStatus ?? null,
        health: stalls.has(stream) ? 'stalled' : 'ok',
        problem: stalls.get(stream) ?? null,
      };
    });
  }

  close(): void {
    this.abort.abort();
  }

  private activity(stream: string): Activity {
    let a = this.byStream.get(stream);
    if (!a) {
      a = { events: 0, lastEventTimeMs: null, lastReceivedTimeMs: null, lastStatus: null };
      this.byStream.set(stream, a);
    }
    return a;
  }
}
