import type { IndicatorMessage, SnapshotMessage, WireIndicatorPoint } from '@visualgo/contracts/algo';
import type { ExchangeId } from '@visualgo/market';

/** The stream a series belongs to, as trading-algo labels it. */
export interface StreamMeta {
  readonly stream: string;
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly interval: SnapshotMessage['interval'];
}

/**
 * What the chart must do after a change: redraw everything (`reset`), or update/append the newest
 * bars in time order (`tail`), which lightweight-charts does in O(1) per bar.
 */
export type SeriesChange =
  | { readonly kind: 'reset' }
  | { readonly kind: 'tail'; readonly points: readonly WireIndicatorPoint[] };

/** Counts of messages the store refused, so a bug upstream shows up instead of a wrong chart. */
export interface SeriesRejections {
  /** A final point older than the newest final one (already held, or out of order). */
  staleFinal: number;
  /** A provisional point for a candle that has already closed. */
  staleProvisional: number;
}

/**
 * One stream's candles and indicator values in the browser: the final (closed) points in open-time
 * order, and at most one provisional point for the still-open candle after them.
 *
 * A `snapshot` replaces everything, as the protocol says (docs/trading-algo.md): after a warm-up or
 * a resume across a gap the server's series may differ from what was held. Final points are
 * immutable once received: a repeated final point for the newest candle replaces it (same data),
 * an older one is refused and counted. Memory is bounded by {@link trim}.
 */
export class SeriesStore {
  private meta: StreamMeta | null = null;
  private finalPoints: WireIndicatorPoint[] = [];
  private open: WireIndicatorPoint | null = null;
  /** Bumped on every change: cheap "did it change since I last looked" for derived views. */
  private revision = 0;
  private finalRevision = 0;
  readonly rejections: SeriesRejections = { staleFinal: 0, staleProvisional: 0 };

  get streamMeta(): StreamMeta | null {
    return this.meta;
  }

  /** Final points, oldest first. The array is owned by the store: do not mutate it. */
  get finals(): readonly WireIndicatorPoint[] {
    return this.finalPoints;
  }

  get provisional(): WireIndicatorPoint | null {
    return this.open;
  }

  get lastFinal(): WireIndicatorPoint | null {
    return this.finalPoints.at(-1) ?? null;
  }

  get changeCount(): number {
    return this.revision;
  }

  /** Changes only when the final points change (not on provisional updates). */
  get finalChangeCount(): number {
    return this.finalRevision;
  }

  clear(): void {
    this.meta = null;
    this.finalPoints = [];
    this.open = null;
    this.revision++;
    this.finalRevision++;
  }

  applySnapshot(message: SnapshotMessage): SeriesChange {
    this.meta = metaOf(message);
    // Defensive: the protocol promises oldest first and final only; keep that true whatever comes.
    const points = message.points.filter((p) => p.final);
    points.sort((a, b) => a.openTimeMs - b.openTimeMs);
    this.finalPoints = dedupeSorted(points);
    const last = this.finalPoints.at(-1);
    if (this.open && last && this.open.openTimeMs <= last.openTimeMs) this.open = null;
    this.revision++;
    this.finalRevision++;
    return { kind: 'reset' };
  }

  /** Applies one `indicator` message; null when it changes nothing (refused or not this stream). */
  applyIndicator(message: IndicatorMessage): SeriesChange | null {
    if (this.meta && message.stream !== this.meta.stream) return null;
    if (!this.meta) this.meta = metaOf(message);
    else if (this.meta.exchange !== message.exchange) this.meta = metaOf(message);
    const point = pointOf(message);
    const last = this.finalPoints.at(-1);
    if (point.final) {
      if (last && point.openTimeMs < last.openTimeMs) {
        this.rejections.staleFinal++;
        return null;
      }
      if (last && point.openTimeMs === last.openTimeMs) this.finalPoints[this.finalPoints.length - 1] = point;
      else this.finalPoints.push(point);
      const orphan = this.open !== null && this.open.openTimeMs < point.openTimeMs;
      if (this.open && this.open.openTimeMs <= point.openTimeMs) this.open = null;
      this.revision++;
      this.finalRevision++;
      // A provisional bar drawn for a candle that never got its final point (the backend skipped
      // it) would stay on the chart looking provisional: redraw instead.
      return orphan ? { kind: 'reset' } : { kind: 'tail', points: [point] };
    }
    if (
      (last && point.openTimeMs <= last.openTimeMs) ||
      (this.open && point.openTimeMs < this.open.openTimeMs)
    ) {
      this.rejections.staleProvisional++;
      return null;
    }
    this.open = point;
    this.revision++;
    return { kind: 'tail', points: [point] };
  }

  /**
   * Adds final points older than the oldest held (scroll-back). Points at or after the oldest held
   * are ignored: the live series is authoritative. Returns how many were added.
   */
  prependOlder(points: readonly WireIndicatorPoint[]): number {
    const first = this.finalPoints[0];
    const older = points
      .filter((p) => p.final && (first === undefined || p.openTimeMs < first.openTimeMs))
      .sort((a, b) => a.openTimeMs - b.openTimeMs);
    const unique = dedupeSorted(older);
    if (unique.length === 0) return 0;
    this.finalPoints = unique.concat(this.finalPoints);
    this.revision++;
    this.finalRevision++;
    return unique.length;
  }

  /**
   * Keeps memory flat on a long-running page: once more than `max + slack` final points are held,
   * the oldest are dropped down to `max`. The slack makes the (full-redraw) trim rare.
   */
  trim(max: number, slack: number): boolean {
    if (this.finalPoints.length <= max + slack) return false;
    this.finalPoints = this.finalPoints.slice(this.finalPoints.length - max);
    this.revision++;
    this.finalRevision++;
    return true;
  }
}

function metaOf(m: StreamMeta): StreamMeta {
  return { stream: m.stream, exchange: m.exchange, symbol: m.symbol, interval: m.interval };
}

/** The point fields of an `indicator` message (it is a point plus the stream fields). */
export function pointOf(message: IndicatorMessage): WireIndicatorPoint {
  const { type: _t, stream: _s, exchange: _e, symbol: _y, interval: _i, ...point } = message;
  return point;
}

function dedupeSorted(points: WireIndicatorPoint[]): WireIndicatorPoint[] {
  const out: WireIndicatorPoint[] = [];
  for (const p of points) {
    const prev = out.at(-1);
    if (prev && prev.openTimeMs === p.openTimeMs) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}
