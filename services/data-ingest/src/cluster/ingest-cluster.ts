import { type CandleEvent, candleEvent, FEED_STREAM } from '@visualgo/bus';
import {
  MarketRegistry,
  NatsBus,
  PRODUCER_REPORT_MS,
  type ProducerReport,
  type StoredCandle,
} from '@visualgo/bus/nats';
import {
  type Candle,
  candleIndexOf,
  type ExchangeId,
  formatStreamName,
  nextOpenTimeMs,
  openTimeOfCandleIndex,
  parseStreamName,
  type StreamId,
} from '@visualgo/market';
import { type Logger, LogThrottle } from '@visualgo/platform';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IngestConfig } from '../app/config.js';
import type { HistorySource } from '../hub/history-source.js';
import type { IngestView } from '../hub/ingest-view.js';
import { ownedShards, planShards, rolloverAgeMs } from './shard-plan.js';

/** Times a start-up history is joined again after the store moved, before it is stored as loaded. */
const MAX_JOINS = 5;

/** data-ingest's part of a cluster on NATS: what it owns, where it publishes, how it reports. */
export interface IngestCluster {
  readonly bus: NatsBus;
  /** The streams this instance ingests (its shards'), in shard order: one connection per shard. */
  readonly streams: readonly StreamId[];
  /** Shards owned, for the upstream client's rollover ages (its shards fill in this order). */
  readonly shardCount: number;
  /** The rollover age of the connection of the instance's `i`-th shard. */
  connectionAgeMsOf(i: number): number;
  /**
   * Stores a stream's start-up backfill in JetStream (not announced: history, not news), joined to
   * what the store holds: when its newest candle is older than the backfill's first, the candles in
   * between are fetched from `source` first (at most `NATS_KLINE_HISTORY` of them), so the store
   * never gets a hole that later candles would pass over.
   */
  storeHistory(
    stream: string,
    candles: readonly Candle[],
    source: HistorySource,
    signal: AbortSignal,
  ): Promise<void>;
  /** Starts reporting the instance's state to the registry every few seconds. */
  startReporting(view: IngestView): void;
  close(): Promise<void>;
}

/**
 * Joins the cluster: connects to NATS (the bus: JetStream streams created if missing), works out
 * the shards this instance owns among `INGEST_INSTANCES` (each shard has two owners; both publish
 * everything, the store keeps one copy), and lists its streams in the registry.
 */
export async function joinCluster(
  config: IngestConfig,
  exchange: ExchangeId,
  all: readonly StreamId[],
  logger: Logger,
  metrics: Registry,
): Promise<IngestCluster> {
  const servers = config.NATS_URL ?? [];
  const name = `data-ingest-${config.INGEST_INSTANCE}`;
  const log = logger.child({ component: 'cluster' });
  const plan = planShards(all, config.UPSTREAM_MAX_STREAMS_PER_CONNECTION, config.INGEST_INSTANCES);
  const owned = ownedShards(plan, config.INGEST_INSTANCE);
  const byName = new Map(all.map((id) => [formatStreamName(id), id]));
  const streams = owned.flatMap(({ shard }) => shard.streams.map((s) => byName.get(s) as StreamId));
  if (config.INGEST_INSTANCES === 1) {
    log.warn(
      'one data-ingest instance: every shard has a single owner (set INGEST_INSTANCES=2 or more for two)',
    );
  }
  const m = busMetrics(metrics);
  const throttle = new LogThrottle();
  const bus = await NatsBus.connect(
    { servers, name },
    {
      venue: exchange,
      klineHistory: config.NATS_KLINE_HISTORY,
      replicas: config.NATS_REPLICAS,
      // This instance's own edges (health counters, its Binance WebSocket and gRPC endpoints)
      // serve what it ingests itself. Taking its streams from NATS as well would bring it the other
      // owner's copy of every trade and update only to drop it, on the connection that carries its
      // JetStream acknowledgements: under CPU load those then queue behind the flood, stores time
      // out and the server cuts the connection as a slow consumer.
      produced: [...streams.map(formatStreamName), FEED_STREAM],
      source: name,
      observer: {
        malformed: (subject, reason) => {
          m.malformed.inc();
          if (throttle.take('malformed') !== null)
            log.warn({ subject, reason }, 'malformed bus message dropped');
        },
        notStored: (event, outcome) => {
          m.notStored.inc({ outcome });
          if (outcome === 'refused')
            log.error({ stream: event.stream, seq: event.seq }, 'closed candle refused by the store');
        },
        retrying: (what, err) => {
          m.retries.inc({ what });
          if (throttle.take(`retry-${what}`) !== null)
            log.warn({ err, what }, 'market bus operation retried');
        },
        dropped: (type, count) => m.dropped.inc({ type }, count),
        connection: (state) => log.warn({ state }, `market bus connection ${state}`),
      },
    },
  );
  new Gauge({
    name: 'ingest_bus_pending',
    help: 'Events waiting to be published on NATS (closed candles wait for the store)',
    registers: [metrics],
    collect() {
      this.set(bus.pendingPublishes);
    },
  });
  let registry: MarketRegistry;
  try {
    registry = await MarketRegistry.open(bus.connection, { replicas: config.NATS_REPLICAS });
    await registry.registerStreams(exchange, streams);
  } catch (err) {
    await bus.close();
    throw err;
  }
  log.info(
    {
      instance: config.INGEST_INSTANCE,
      instances: config.INGEST_INSTANCES,
      shards: owned.map(({ shard }) => shard.index),
      of: plan.length,
      streams: streams.length,
    },
    'owning shards',
  );
  let timer: NodeJS.Timeout | null = null;
  let reporting: Promise<void> = Promise.resolve();
  return {
    bus,
    streams,
    shardCount: owned.length,
    connectionAgeMsOf: (i) => {
      const own = owned[i];
      if (!own) return config.UPSTREAM_MAX_CONNECTION_AGE_MS;
      return rolloverAgeMs(
        own.shard.index,
        own.rank,
        plan.length,
        config.UPSTREAM_MAX_CONNECTION_AGE_MS,
        config.UPSTREAM_ROLLOVER_SPREAD_MS,
      );
    },
    async storeHistory(stream, candles, source, signal) {
      const first = candles[0];
      const id = parseStreamName(stream);
      if (!first || id?.kind !== 'kline') {
        await bus.storeHistory(candles.map((c): CandleEvent => candleEvent(stream, c)));
        return;
      }
      // The other owner may store between our look at the store and our first append: then look
      // again, so that the history always joins the newest stored candle (no hole before it).
      for (let attempt = 1; ; attempt++) {
        let newest: StoredCandle | null | undefined;
        try {
          newest = await bus.history.newest(stream);
        } catch (err) {
          log.warn({ err, stream }, 'newest stored candle not read; history stored as loaded');
          newest = undefined;
        }
        let joined: readonly Candle[] = [];
        const from = newest ? nextOpenTimeMs(id.interval, newest.candle.openTimeMs) : first.openTimeMs;
        if (from < first.openTimeMs) {
          // Only as much as the store keeps: what is older would fall out of it at once.
          const fromIndex = Math.max(
            candleIndexOf(id.interval, from),
            candleIndexOf(id.interval, first.openTimeMs) - config.NATS_KLINE_HISTORY,
          );
          const to = openTimeOfCandleIndex(id.interval, candleIndexOf(id.interval, first.openTimeMs) - 1);
          try {
            joined = await source.closedBetween(
              id,
              openTimeOfCandleIndex(id.interval, fromIndex),
              to,
              signal,
            );
            log.info({ stream, candles: joined.length }, 'history joined to the store');
          } catch (err) {
            if (signal.aborted) throw err;
            m.holes.inc();
            log.error({ err, stream, from, to }, 'candles between the store and the history not fetched');
            newest = undefined;
          }
        }
        const events = [...joined, ...candles].map((c): CandleEvent => candleEvent(stream, c));
        // Unjoinable (the store could not be read, or what lies between not fetched): as loaded.
        if (await bus.storeHistoryJoined(events, attempt > MAX_JOINS ? undefined : newest)) return;
        log.info({ stream, attempt }, 'the store moved while the history was joined; joining again');
      }
    },
    startReporting(view) {
      const report = (): ProducerReport => {
        const readiness = view.readiness();
        return {
          name,
          exchange,
          ready: readiness.ready,
          reasons: readiness.reasons,
          upstreamConnected: view.isUpstreamConnected(),
          historyLoaded: view.isHistoryLoaded(),
          stalled: view.stalledStreams(),
          streams: streams.length,
          timeMs: Date.now(),
        };
      };
      const send = () => {
        reporting = registry.report(report()).catch((err: unknown) => {
          if (throttle.take('report') !== null) log.warn({ err }, 'producer report not written');
        });
      };
      send();
      timer = setInterval(send, PRODUCER_REPORT_MS);
      timer.unref();
    },
    async close() {
      if (timer) clearInterval(timer);
      await reporting;
      await registry.withdraw({ name, exchange }).catch(() => {});
      await bus.close();
    },
  };
}

function busMetrics(registry: Registry) {
  return {
    malformed: new Counter({
      name: 'ingest_bus_malformed_total',
      help: 'Messages on the market bus that were not bus events (dropped)',
      registers: [registry],
    }),
    notStored: new Counter({
      name: 'ingest_bus_not_stored_total',
      help: 'Closed candles not stored: older than the newest stored (stale) or refused by JetStream',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'ingest_bus_retries_total',
      help: 'Stores and store reads retried after a transient NATS failure',
      labelNames: ['what'],
      registers: [registry],
    }),
    holes: new Counter({
      name: 'ingest_bus_history_holes_total',
      help: 'Start-up histories that could not be joined to the candles stored (the store keeps a hole before them)',
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'ingest_bus_dropped_total',
      help: 'Events dropped because the outbox to NATS was full (open-candle updates, trades)',
      labelNames: ['type'],
      registers: [registry],
    }),
  };
}
