import { type Interval, intervalNominalMs } from '@visualgo/market';

/** Why an event offered to a stream was not accepted (the candle book's drop reasons). */
export type DropReason = 'duplicate' | 'stale';

export interface StreamStall {
  readonly stream: string;
  /** Milliseconds since the stream last accepted an event (or since it could have). */
  readonly silentMs: number;
  /** Events dropped since the last accepted one, by reason. */
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** One sentence for /readyz, /healthz, logs and feed status. */
  readonly reason: string;
}

interface State {
  readonly interval: Interval;
  /** Local clock: the last accepted event, or the last moment counting started over. */
  sinceMs: number;
  dropped: Record<DropReason, number>;
  stalled: boolean;
}

/**
 * Whether each kline stream still accepts events. A connected exchange that keeps sending while
 * every event is dropped (the exchange's clock moved back, so each update looks older than what
 * was already received) passes the connection watchdog; this catches it. A kline stream must
 * accept at least its closed candle every interval, so it is stalled once nothing has been
 * accepted for one interval plus `graceMs`, counted on the local clock from the last accepted
 * event, the (re)connection or the end of the start-up backfill, whichever is latest. Trade
 * streams are not judged: a quiet market can go minutes without a trade.
 */
export class StreamLiveness {
  private readonly streams = new Map<string, State>();

  constructor(
    private readonly graceMs: number,
    private readonly now: () => number,
  ) {}

  add(stream: string, interval: Interval): void {
    this.streams.set(stream, {
      interval,
      sinceMs: this.now(),
      dropped: { duplicate: 0, stale: 0 },
      stalled: false,
    });
  }

  accepted(stream: string): void {
    const s = this.streams.get(stream);
    if (!s) return;
    s.sinceMs = this.now();
    s.dropped.duplicate = 0;
    s.dropped.stale = 0;
  }

  dropped(stream: string, reason: DropReason): void {
    const s = this.streams.get(stream);
    if (s) s.dropped[reason]++;
  }

  /** Starts every stream's count over: after a (re)connection or the start-up backfill. */
  restart(): void {
    const t = this.now();
    for (const s of this.streams.values()) s.sinceMs = Math.max(s.sinceMs, t);
  }

  /** The streams stalled now, in declaration order. */
  stalls(): StreamStall[] {
    const t = this.now();
    const out: StreamStall[] = [];
    for (const [stream, s] of this.streams) {
      const silentMs = t - s.sinceMs;
      const limitMs = intervalNominalMs(s.interval) + this.graceMs;
      if (silentMs <= limitMs) continue;
      const dropped = { ...s.dropped };
      const why =
        dropped.stale + dropped.duplicate > 0
          ? `; ${dropped.stale} updates since were dropped as stale and ${dropped.duplicate} closed candles as duplicates: older than what was already received (has the exchange's clock moved back?)`
          : '; nothing was received for it';
      out.push({
        stream,
        silentMs,
        dropped,
        reason: `${stream}: no event accepted for ${Math.round(silentMs / 1000)} s (a ${s.interval} stream must accept one at least every ${Math.round(limitMs / 1000)} s)${why}`,
      });
    }
    return out;
  }

  /**
   * Streams that became stalled or recovered since the last call, for status events. Call it
   * periodically; `stalls()` answers on its own in between.
   */
  transitions(): { readonly stalled: StreamStall[]; readonly recovered: string[] } {
    const now = new Map(this.stalls().map((s) => [s.stream, s]));
    const stalled: StreamStall[] = [];
    const recovered: string[] = [];
    for (const [stream, s] of this.streams) {
      const stall = now.get(stream);
      if (stall && !s.stalled) stalled.push(stall);
      if (!stall && s.stalled) recovered.push(stream);
      s.stalled = stall !== undefined;
    }
    return { stalled, recovered };
  }

  isStalled(stream: string): boolean {
    return this.stalls().some((s) => s.stream === stream);
  }
}
