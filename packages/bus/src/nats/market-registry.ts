import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { type ExchangeId, formatStreamName, parseStreamName, type StreamId } from '@visualgo/market';
import { z } from 'zod';

/** The KV bucket listing the streams produced: key `<venue>.<kind>.<interval or ->.<SYMBOL>`. */
export const STREAMS_BUCKET = 'md_streams';
/** The KV bucket of producers' reports (data-ingest instances), refreshed every few seconds. */
export const PRODUCERS_BUCKET = 'md_producers';
/** A producer report older than this is stale: the producer is gone (or cut off from NATS). */
export const PRODUCER_TTL_MS = 15_000;
/** How often a producer reports. */
export const PRODUCER_REPORT_MS = 5_000;

/** What a producer (one data-ingest instance) says about itself. */
export interface ProducerReport {
  /** `data-ingest-0` */
  readonly name: string;
  readonly exchange: ExchangeId;
  readonly ready: boolean;
  /** Why not ready: one sentence per cause. */
  readonly reasons: readonly string[];
  readonly upstreamConnected: boolean;
  readonly historyLoaded: boolean;
  readonly stalled: readonly { readonly stream: string; readonly reason: string }[];
  /** Streams it ingests. */
  readonly streams: number;
  readonly timeMs: number;
}

const reportSchema = z.object({
  name: z.string().max(200),
  exchange: z.enum(['binance', 'binance-sim']),
  ready: z.boolean(),
  reasons: z.array(z.string().max(2_000)).max(1_000),
  upstreamConnected: z.boolean(),
  historyLoaded: z.boolean(),
  stalled: z.array(z.object({ stream: z.string().max(100), reason: z.string().max(2_000) })).max(100_000),
  streams: z.number().int().nonnegative(),
  timeMs: z.number().int(),
});

const UTF8_OUT = new TextEncoder();

function streamKey(venue: ExchangeId, id: StreamId): string {
  const interval = id.kind === 'kline' ? id.interval : '-';
  return `${venue}.${id.kind}.${interval}.${id.symbol.toUpperCase()}`;
}

function streamOfKey(key: string): StreamId | null {
  const [, kind, interval, symbol] = key.split('.');
  if (!kind || !interval || !symbol) return null;
  const name =
    kind === 'kline' ? `${symbol.toLowerCase()}@kline_${interval}` : `${symbol.toLowerCase()}@${kind}`;
  return parseStreamName(name);
}

/**
 * Who produces what, in NATS KV (JetStream-backed, so it survives restarts and every process sees
 * the same): the streams data-ingest instances ingest (`md_streams`, written once per stream) and
 * each instance's state (`md_producers`, a report every few seconds; a report older than
 * {@link PRODUCER_TTL_MS} means the instance is gone). Gateways serve the stream list from it and
 * judge readiness from the reports; trading-algo workers find their partitions' streams in it.
 */
export class MarketRegistry {
  private constructor(
    private readonly streams: KV,
    private readonly producers: KV,
  ) {}

  static async open(
    nc: NatsConnection,
    options: { readonly replicas?: number } = {},
  ): Promise<MarketRegistry> {
    const kvm = new Kvm(nc);
    const replicas = options.replicas ?? 1;
    const streams = await kvm.create(STREAMS_BUCKET, { history: 1, replicas });
    const producers = await kvm.create(PRODUCERS_BUCKET, { history: 1, replicas, ttl: PRODUCER_TTL_MS });
    return new MarketRegistry(streams, producers);
  }

  /** Records streams as produced (idempotent: a stream already listed is not written again). */
  async registerStreams(venue: ExchangeId, ids: readonly StreamId[]): Promise<void> {
    const known = new Set((await this.listStreams(venue)).map(formatStreamName));
    for (const id of ids) {
      if (known.has(formatStreamName(id))) continue;
      await this.streams.put(streamKey(venue, id), UTF8_OUT.encode(formatStreamName(id)));
    }
  }

  /** Every stream produced for `venue`, in key order. */
  async listStreams(venue: ExchangeId): Promise<StreamId[]> {
    const out: StreamId[] = [];
    for await (const key of await this.streams.keys(`${venue}.>`)) {
      const id = streamOfKey(key);
      if (id) out.push(id);
    }
    return out.sort((a, b) => formatStreamName(a).localeCompare(formatStreamName(b)));
  }

  /**
   * Calls `onStream` with every stream listed now and every one listed later, until `signal`
   * aborts. The watch follows NATS through reconnections and server restarts.
   */
  async watchStreams(
    venue: ExchangeId,
    onStream: (id: StreamId) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const watch = await this.streams.watch({ key: `${venue}.>` });
    const stop = () => watch.stop();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') continue;
        const id = streamOfKey(entry.key);
        if (id) onStream(id);
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  /** Publishes a producer's report (keyed by its name). */
  async report(report: ProducerReport): Promise<void> {
    await this.producers.put(producerKey(report), UTF8_OUT.encode(JSON.stringify(report)));
  }

  /** Removes a producer's report (it is stopping). */
  async withdraw(report: Pick<ProducerReport, 'name' | 'exchange'>): Promise<void> {
    await this.producers.delete(producerKey(report));
  }

  /**
   * Calls `onReport` with every valid producer report, current and later (a deleted one as
   * `null` with its key), until `signal` aborts.
   */
  async watchProducers(
    venue: ExchangeId,
    onReport: (key: string, report: ProducerReport | null) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const watch = await this.producers.watch({ key: `${venue}.>` });
    const stop = () => watch.stop();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') {
          onReport(entry.key, null);
          continue;
        }
        let parsed: unknown;
        try {
          parsed = entry.json();
        } catch {
          continue;
        }
        const report = reportSchema.safeParse(parsed);
        if (report.success) onReport(entry.key, report.data);
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }
}

function producerKey(report: Pick<ProducerReport, 'name' | 'exchange'>): string {
  return `${report.exchange}.${report.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}
