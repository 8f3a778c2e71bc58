import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/nats-core';
import { partitionOf } from '@visualgo/bus';
import { DUPLICATE_WINDOW_MS, type SequencedRecord, SequencedWriter, SubjectLog } from '@visualgo/bus/nats';
import {
  type IndicatorMessage,
  indicatorMessageSchema,
  type SignalMessage,
  signalMessageSchema,
  type WireIndicatorPoint,
} from '@visualgo/contracts';
import { type ExchangeId, type Interval, parseStreamName } from '@visualgo/market';
import { z } from 'zod';
import type { EngineEvent, IndicatorEngine } from '../engine/indicator-engine.js';

/**
 * trading-algo's output between processes, on the same plan as market data (`@visualgo/bus/nats`):
 *
 * | subject                                       | carries                                              | where |
 * |-----------------------------------------------|------------------------------------------------------|-------|
 * | `algo.<venue>.point.<interval>.<SYMBOL>.<p>`  | final indicator points, once each, in open-time order | JetStream `ALGO_POINTS` (the last `HISTORY_POINTS` per stream) |
 * | `algo.<venue>.live.<interval>.<SYMBOL>.<p>`   | provisional points, each final point once stored, signals, `history-loaded` | core |
 *
 * A point's content id is `<venue>:point:<SYMBOL>:<interval>:<openTime>`: the same value from any
 * worker (values are fixed by the calendar), so a worker that takes over, or redoes candles after a
 * crash, stores nothing twice. Gateways serve snapshots and `/api/indicators` from the stream and
 * relay the live subject.
 */
export const POINTS_STREAM = 'ALGO_POINTS';

export function pointSubject(venue: ExchangeId, symbol: string, interval: Interval): string {
  const upper = symbol.toUpperCase();
  return `algo.${venue}.point.${interval}.${upper}.${partitionOf(upper)}`;
}

export function liveSubject(venue: ExchangeId, symbol: string, interval: Interval): string {
  const upper = symbol.toUpperCase();
  return `algo.${venue}.live.${interval}.${upper}.${partitionOf(upper)}`;
}

export function pointMessageId(
  venue: ExchangeId,
  point: Pick<IndicatorMessage, 'symbol' | 'interval' | 'openTimeMs'>,
) {
  return `${venue}:point:${point.symbol.toUpperCase()}:${point.interval}:${point.openTimeMs}`;
}

/** A worker's word that a stream's history of points was (re)loaded: clients want a fresh snapshot. */
export const historyLoadedSchema = z.strictObject({
  type: z.literal('history-loaded'),
  stream: z.string().min(1),
});
export type HistoryLoadedMessage = z.infer<typeof historyLoadedSchema>;

/** What travels on a live subject. */
export const liveMessageSchema = z.discriminatedUnion('type', [
  indicatorMessageSchema,
  signalMessageSchema,
  historyLoadedSchema,
]);
export type LiveMessage = IndicatorMessage | SignalMessage | HistoryLoadedMessage;

const UTF8_OUT = new TextEncoder();
const UTF8_IN = new TextDecoder();

/** The point in a stored message, or null when it is not one. */
export function decodePoint(data: Uint8Array): IndicatorMessage | null {
  try {
    const parsed = indicatorMessageSchema.safeParse(JSON.parse(UTF8_IN.decode(data)));
    return parsed.success && parsed.data.final ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Creates the points stream, or brings it to this configuration. */
export async function ensurePointsStream(
  jsm: JetStreamManager,
  settings: { readonly historyPoints: number; readonly replicas?: number },
): Promise<void> {
  const config = {
    name: POINTS_STREAM,
    description:
      'Final indicator points, one message per candle (message id venue:point:SYMBOL:interval:openTime)',
    subjects: ['algo.*.point.>'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: settings.historyPoints,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    allow_direct: true,
    num_replicas: settings.replicas ?? 1,
  };
  try {
    await jsm.streams.add(config);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== 10058) throw err;
    const { storage: _s, retention: _r, ...changeable } = config;
    await jsm.streams.update(POINTS_STREAM, changeable);
  }
}

/** A stored point message as the edges serve it (the point without its stream's identity). */
export function wireOfMessage(m: IndicatorMessage): WireIndicatorPoint {
  const { type: _t, stream: _s, exchange: _e, symbol: _y, interval: _i, ...point } = m;
  return point;
}

/** Reads the stored final points of a stream (oldest first). */
export class PointsLog {
  private readonly log: SubjectLog<IndicatorMessage>;

  constructor(
    js: JetStreamClient,
    jsm: JetStreamManager,
    private readonly venue: ExchangeId,
  ) {
    this.log = new SubjectLog(js, jsm, POINTS_STREAM, (_subject, data) => decodePoint(data));
  }

  /** The newest `limit` final points opening at or before `endTimeMs` (default: the newest). */
  async last(stream: string, limit: number, endTimeMs?: number): Promise<IndicatorMessage[]> {
    const id = parseStreamName(stream);
    if (id?.kind !== 'kline') return [];
    const subject = pointSubject(this.venue, id.symbol, id.interval);
    return this.log.range(subject, id.interval, {
      limit,
      fromEnd: true,
      ...(endTimeMs === undefined ? {} : { endTimeMs }),
    });
  }
}

type Entry =
  | {
      readonly kind: 'store';
      readonly record: SequencedRecord;
      /** Where to announce it once stored; null for history (not news). */
      readonly announce: string | null;
    }
  | { readonly kind: 'core'; readonly subject: string; readonly data: Uint8Array };

export interface AlgoOutputOptions {
  readonly venue: ExchangeId;
  /** Final points stored for a stream whose history was loaded (the most a snapshot needs). */
  readonly historyPoints: number;
  readonly onRetry?: (error: unknown) => void;
}

/**
 * Publishes an engine's output on NATS, in the order the engine emitted it: a final point is
 * stored first, then announced on the live subject; what follows waits for it (the same ordered
 * outbox as market data). `settled()` resolves once everything emitted before it is stored or
 * sent, which is when a worker may save the indicator state that produced it.
 */
export class AlgoOutputPublisher {
  private queue: Entry[] = [];
  private head = 0;
  private enqueued = 0;
  private handled = 0;
  private running = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  private readonly writer: SequencedWriter;

  constructor(
    private readonly nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    private readonly options: AlgoOutputOptions,
  ) {
    this.writer = new SequencedWriter(js, jsm, {
      stream: POINTS_STREAM,
      orderKeyOf: (data) => decodePoint(data)?.openTimeMs ?? null,
      alive: () => !this.closed,
    });
  }

  /** Publishes what `engine` emits from now on; returns the way to stop. */
  follow(engine: IndicatorEngine): () => void {
    return engine.subscribe((event) => this.onEngineEvent(engine, event));
  }

  /** See `SequencedWriter.reconnected`. */
  reconnected(): void {
    this.writer.reconnected();
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  async settled(): Promise<void> {
    const target = this.enqueued;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (this.handled < target && !this.closed) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
    });
    // Stored points are acknowledged already; the flush only tells that core messages were sent.
    if (!this.closed) await this.nc.flush().catch(() => {});
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    for (const wake of [...this.waiters]) wake();
  }

  private onEngineEvent(engine: IndicatorEngine, event: EngineEvent): void {
    const { venue } = this.options;
    switch (event.type) {
      case 'indicator': {
        const m = event.message;
        const data = UTF8_OUT.encode(JSON.stringify(m));
        const live = liveSubject(venue, m.symbol, m.interval);
        if (m.final) this.enqueue({ kind: 'store', record: this.record(m, data), announce: live });
        else this.enqueue({ kind: 'core', subject: live, data });
        return;
      }
      case 'signal': {
        const id = parseStreamName(event.message.stream);
        if (id?.kind !== 'kline') return;
        const data = UTF8_OUT.encode(JSON.stringify(event.message));
        this.enqueue({ kind: 'core', subject: liveSubject(venue, id.symbol, id.interval), data });
        return;
      }
      case 'history-loaded': {
        const info = engine.info(event.stream);
        const points = engine.history(event.stream, this.options.historyPoints) ?? [];
        if (!info) return;
        for (const point of points) {
          const m: IndicatorMessage = {
            type: 'indicator',
            stream: info.stream,
            exchange: info.exchange,
            symbol: info.symbol,
            interval: info.interval,
            ...point,
          };
          this.enqueue({
            kind: 'store',
            record: this.record(m, UTF8_OUT.encode(JSON.stringify(m))),
            announce: null,
          });
        }
        const loaded: HistoryLoadedMessage = { type: 'history-loaded', stream: info.stream };
        this.enqueue({
          kind: 'core',
          subject: liveSubject(venue, info.symbol, info.interval),
          data: UTF8_OUT.encode(JSON.stringify(loaded)),
        });
        return;
      }
      case 'stream-added':
        return;
    }
  }

  private record(m: IndicatorMessage, data: Uint8Array): SequencedRecord {
    const { venue } = this.options;
    return {
      subject: pointSubject(venue, m.symbol, m.interval),
      msgID: pointMessageId(venue, m),
      orderKey: m.openTimeMs,
      data,
    };
  }

  private enqueue(entry: Entry): void {
    if (this.closed) return;
    this.queue.push(entry);
    this.enqueued++;
    if (!this.running) {
      this.running = true;
      void this.run();
    }
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed && this.head < this.queue.length) {
        const first = this.queue[this.head] as Entry;
        if (first.kind === 'core') {
          this.publish(first.subject, first.data);
          this.head++;
          this.handled++;
        } else {
          const run: Extract<Entry, { kind: 'store' }>[] = [];
          for (let i = this.head; i < this.queue.length && run.length < 4_096; i++) {
            const entry = this.queue[i] as Entry;
            if (entry.kind !== 'store') break;
            run.push(entry);
          }
          const outcomes = await this.writer.store(
            run.map((e) => e.record),
            this.options.onRetry,
          );
          if (this.closed) return;
          run.forEach((entry, i) => {
            const outcome = outcomes[i];
            if (entry.announce && (outcome === 'stored' || outcome === 'present'))
              this.publish(entry.announce, entry.record.data);
          });
          this.head += run.length;
          this.handled += run.length;
        }
        if (this.head > 4_096 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        for (const wake of [...this.waiters]) wake();
      }
    } catch {
      // Only closing stops the writer's retries; what was left is dropped with the outbox.
    } finally {
      this.running = false;
    }
  }

  private publish(subject: string, data: Uint8Array): void {
    try {
      this.nc.publish(subject, data);
    } catch {
      // The connection is closing.
    }
  }
}
