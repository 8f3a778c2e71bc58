import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { SnapshotMessage, WireIndicatorPoint } from '@visualgo/contracts';
import { type ExchangeId, parseStreamName } from '@visualgo/market';
import { type Logger, LogThrottle } from '@visualgo/platform';
import {
  type EngineEvent,
  type IndicatorSource,
  liveMessageSchema,
  liveSubject,
  type PointsLog,
  type StreamInfo,
  wireOfMessage,
} from '@visualgo/trading-algo';
import { ReadCache } from './read-cache.js';

const UTF8_IN = new TextDecoder();

interface Followed {
  refs: number;
  readonly info: StreamInfo;
  readonly sub: Subscription;
  /** The last `snapshotPoints` final points, oldest first; null until loaded from the store. */
  points: WireIndicatorPoint[] | null;
  /** Finals that arrived live while the store was read, merged after it. */
  early: WireIndicatorPoint[];
  finalCount: number;
  loading: number;
}

export interface RemoteIndicatorsOptions {
  readonly nc: NatsConnection;
  readonly venue: ExchangeId;
  readonly points: PointsLog;
  /** The kline streams served (from the registry). */
  readonly streams: () => readonly StreamInfo[];
  readonly listed: () => boolean;
  readonly snapshotPoints: number;
  readonly cacheMs: number;
  readonly cacheEntries: number;
  readonly logger: Logger;
}

/**
 * trading-algo's output as a gateway serves it (an {@link IndicatorSource} for the same WebSocket
 * and HTTP edges as the service's own): a stream some client wants is taken from NATS, its last
 * final points read from `ALGO_POINTS` and its live subject followed, as long as a client wants it
 * (reference-counted); `/api/indicators` reads the store, with a small read cache.
 */
export class RemoteIndicators implements IndicatorSource {
  private readonly followed = new Map<string, Followed>();
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private readonly cache: ReadCache<WireIndicatorPoint[]>;
  private readonly log: Logger;
  private readonly throttle = new LogThrottle();

  constructor(private readonly options: RemoteIndicatorsOptions) {
    this.cache = new ReadCache(options.cacheMs, options.cacheEntries);
    this.log = options.logger.child({ component: 'remote-indicators' });
  }

  /** Streams followed on NATS now. */
  get followedStreams(): readonly string[] {
    return [...this.followed.keys()];
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get streamsListed(): boolean {
    return this.options.listed();
  }

  streams(): StreamInfo[] {
    return [...this.options.streams()];
  }

  info(stream: string): StreamInfo | undefined {
    return this.options.streams().find((s) => s.stream === stream);
  }

  /** A stream listed after start: clients following every stream get it. */
  announce(info: StreamInfo): void {
    this.emit({ type: 'stream-added', info });
  }

  finalCount(stream: string): number {
    return this.followed.get(stream)?.finalCount ?? 0;
  }

  snapshot(stream: string, limit: number): SnapshotMessage | null {
    const f = this.followed.get(stream);
    if (!f?.points) return null;
    return { type: 'snapshot', ...f.info, points: limit > 0 ? f.points.slice(-limit) : [] };
  }

  async history(stream: string, limit: number, endTimeMs?: number): Promise<WireIndicatorPoint[] | null> {
    if (!this.info(stream)) return null;
    return this.cache.read(`${stream}|${limit}|${endTimeMs ?? ''}`, async () =>
      (await this.options.points.last(stream, limit, endTimeMs)).map(wireOfMessage),
    );
  }

  retain(stream: string): void {
    const existing = this.followed.get(stream);
    if (existing) {
      existing.refs++;
      return;
    }
    const info = this.info(stream);
    const id = parseStreamName(stream);
    if (!info || id?.kind !== 'kline') return;
    const sub = this.options.nc.subscribe(liveSubject(this.options.venue, id.symbol, id.interval), {
      callback: (err, msg) => {
        if (!err) this.onLive(stream, msg);
      },
    });
    const f: Followed = { refs: 1, info, sub, points: null, early: [], finalCount: 0, loading: 0 };
    this.followed.set(stream, f);
    this.load(f);
  }

  release(stream: string): void {
    const f = this.followed.get(stream);
    if (!f || --f.refs > 0) return;
    f.sub.unsubscribe();
    this.followed.delete(stream);
  }

  close(): void {
    for (const f of this.followed.values()) f.sub.unsubscribe();
    this.followed.clear();
  }

  /** (Re)reads the stream's last final points from the store, then tells clients (a fresh snapshot). */
  private load(f: Followed): void {
    const attempt = ++f.loading;
    f.early = [];
    this.options.points.last(f.info.stream, this.options.snapshotPoints).then(
      (stored) => {
        if (this.followed.get(f.info.stream) !== f || attempt !== f.loading) return;
        const points = stored.map(wireOfMessage);
        const newest = points.at(-1)?.openTimeMs ?? Number.NEGATIVE_INFINITY;
        for (const p of f.early) if (p.openTimeMs > (points.at(-1)?.openTimeMs ?? newest)) points.push(p);
        f.early = [];
        f.points = points.slice(-Math.max(1, this.options.snapshotPoints));
        f.finalCount++;
        this.emit({ type: 'history-loaded', stream: f.info.stream });
      },
      (err: unknown) => {
        if (this.throttle.take('load') !== null)
          this.log.warn({ err, stream: f.info.stream }, 'indicator history not read');
        if (this.followed.get(f.info.stream) === f)
          setTimeout(() => this.followed.get(f.info.stream) === f && this.load(f), 1_000).unref();
      },
    );
  }

  private onLive(stream: string, msg: Msg): void {
    const f = this.followed.get(stream);
    if (!f) return;
    let parsed: ReturnType<typeof liveMessageSchema.safeParse>;
    try {
      parsed = liveMessageSchema.safeParse(JSON.parse(UTF8_IN.decode(msg.data)));
    } catch {
      return;
    }
    if (!parsed.success || parsed.data.stream !== stream) return;
    const message = parsed.data;
    if (message.type === 'history-loaded') {
      this.load(f);
      return;
    }
    if (message.type === 'signal') {
      this.emit({ type: 'signal', message });
      return;
    }
    if (message.final) {
      const point = wireOfMessage(message);
      if (f.points === null) {
        f.early.push(point);
        return;
      }
      const last = f.points.at(-1);
      // Two workers may both announce a point during a takeover: once each, in order.
      if (last && point.openTimeMs <= last.openTimeMs) return;
      f.points.push(point);
      if (f.points.length > this.options.snapshotPoints) f.points.shift();
      f.finalCount++;
    } else if (f.points === null) {
      return;
    }
    this.emit({ type: 'indicator', message });
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err, event: event.type }, 'indicator listener failed');
      }
    }
  }
}
