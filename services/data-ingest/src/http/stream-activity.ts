import type { FeedStatusKind, MarketHubView } from '../hub/market-hub.js';

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

/** Per-stream last event and last feed status, for `/healthz`. */
export class StreamActivity {
  private readonly byStream = new Map<string, Activity>();
  private readonly unsubscribe: () => void;
  private readonly unsubscribeStatus: () => void;

  constructor(
    private readonly hub: MarketHubView,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = hub.subscribe((event) => {
      const a = this.activity(event.stream);
      const data = event.data.type === 'candle' ? event.data.candle : event.data.trade;
      a.events++;
      a.lastEventTimeMs = data.eventTimeMs;
      a.lastReceivedTimeMs = data.receivedTimeMs;
    });
    this.unsubscribeStatus = hub.onStatus((event) => {
      if (event.stream === '') for (const d of hub.streams()) this.activity(d.stream).lastStatus = event.kind;
      else this.activity(event.stream).lastStatus = event.kind;
    });
  }

  snapshot(): StreamActivitySnapshot[] {
    const t = this.now();
    const stalls = new Map(this.hub.stalledStreams().map((s) => [s.stream, s.reason]));
    return this.hub.streams().map(({ stream }) => {
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
    this.unsubscribe();
    this.unsubscribeStatus();
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
