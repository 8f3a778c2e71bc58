import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { partitionOf } from '@visualgo/bus';
import { connectNats, credentialsOf, ensureStreams, KlineHistory, MarketRegistry } from '@visualgo/bus/nats';
import type { StatusMessage } from '@visualgo/contracts';
import { type ExchangeId, formatStreamName, type StreamId } from '@visualgo/market';
import type { Logger } from '@visualgo/platform';
import type { FeedMetrics } from '../algo-metrics.js';
import type { IndicatorEngine, StreamInfo } from '../engine/indicator-engine.js';
import { feedStatusMessage } from '../feed/feed-status.js';
import { AlgoOutputPublisher, ensurePointsStream, PointsLog } from './algo-output.js';
import { IndicatorSnapshots } from './indicator-snapshots.js';
import { LeaseOwnership, type PartitionOwnership, StaticOwnership } from './partition-ownership.js';
import { PartitionWorker, type WorkerCounters } from './partition-worker.js';

export interface ClusterFeedOptions {
  readonly servers: readonly string[];
  readonly venue: ExchangeId;
  readonly instance: number;
  readonly instances: number;
  /** Hold partitions by lease (takeover of a dead worker's partitions) rather than statically. */
  readonly leases: boolean;
  readonly snapshotMs: number;
  /** The partition consumers' ack_wait (`ALGO_ACK_WAIT_MS`). */
  readonly ackWaitMs: number;
  /** Final points kept per stream in the output stream (and stored after a warm-up). */
  readonly historyPoints: number;
  readonly replicas: number;
  /** Kline streams to serve; empty: every one listed in the registry. */
  readonly streams: readonly string[];
  readonly engine: IndicatorEngine;
  readonly logger: Logger;
  readonly metrics?: FeedMetrics;
  /** Feed status changes, for the WebSocket clients. */
  readonly onStatus: (message: StatusMessage) => void;
}

/**
 * trading-algo as one worker of a cluster on NATS: it owns partitions (statically, instance i of
 * N owning p mod N = i, or by lease), runs a {@link PartitionWorker} for each, and publishes the
 * engine's output (`AlgoOutputPublisher`). Its streams come from the registry data-ingest keeps in
 * KV, watched for new listings. Stands in for the gRPC `MarketFeed` (the same surface for the app).
 */
export class ClusterFeed {
  readonly counters: WorkerCounters = { skipped: 0, catchUps: 0, restored: 0, warmedUp: 0, snapshots: 0 };
  private nc: NatsConnection | null = null;
  private output: AlgoOutputPublisher | null = null;
  private pointsLog: PointsLog | null = null;
  private ownership: PartitionOwnership | null = null;
  private readonly workers = new Map<number, PartitionWorker>();
  private readonly listed = new Map<string, StreamInfo>();
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private syncing: Promise<void> = Promise.resolve();
  private connected = false;
  private lastError: string | null = null;
  /** Brings the workers in line with the partitions owned again (after a worker failed to start). */
  private resync: () => void = () => {};
  private readonly log: Logger;

  constructor(private readonly options: ClusterFeedOptions) {
    this.log = options.logger.child({ component: 'cluster-feed' });
  }

  start(): void {
    this.running ??= this.run().catch((err: unknown) => {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.log.fatal({ err }, 'cluster feed failed');
      throw err;
    });
  }

  /** Resolves once the worker has joined (connected, partitions started); rejects if it could not. */
  get joined(): Promise<void> {
    return this.running ?? Promise.reject(new Error('not started'));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => {});
    await this.syncing;
    await this.ownership?.stop();
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
    await this.output?.settled();
    this.output?.close();
    await this.nc?.drain().catch(() => {});
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Connected, and every owned partition's streams warmed up or restored. */
  get isReady(): boolean {
    return this.connected && this.workers.size > 0 && [...this.workers.values()].every((w) => w.isReady);
  }

  /** Partitions this worker processes now. */
  get partitions(): readonly number[] {
    return [...this.workers.keys()].sort((a, b) => a - b);
  }

  /** The stored final points (`ALGO_POINTS`); null until connected to NATS. */
  get points(): PointsLog | null {
    return this.pointsLog;
  }

  currentStatus(): StatusMessage {
    return feedStatusMessage(this.connected ? 'connected' : 'disconnected', Date.now(), {
      detail: this.connected
        ? `partitions ${this.partitions.join(',')}`
        : (this.lastError ?? 'connecting to NATS'),
    });
  }

  describe(): Record<string, unknown> {
    return {
      // Never the password a server URL may carry.
      nats: credentialsOf(this.options.servers).servers,
      instance: this.options.instance,
      instances: this.options.instances,
      leases: this.options.leases,
      connected: this.connected,
      partitions: this.partitions,
      streams: [...this.workers.values()].flatMap((w) => w.ready),
      counters: this.counters,
      lastError: this.lastError,
    };
  }

  private async run(): Promise<void> {
    const o = this.options;
    const nc = await connectNats({ servers: o.servers, name: `trading-algo-${o.instance}` });
    this.nc = nc;
    if (this.abort.signal.aborted) return;
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    this.pointsLog = new PointsLog(js, jsm, o.venue);
    // The market data streams are data-ingest's: create them if missing, never change them.
    await ensureStreams(jsm, { replicas: o.replicas }, { createOnly: true });
    await ensurePointsStream(jsm, { historyPoints: o.historyPoints, replicas: o.replicas });
    const registry = await MarketRegistry.open(nc, { replicas: o.replicas });
    const snapshots = await IndicatorSnapshots.open(nc, { replicas: o.replicas });
    const output = new AlgoOutputPublisher(nc, js, jsm, {
      venue: o.venue,
      historyPoints: o.historyPoints,
      onRetry: (err) => this.log.warn({ err }, 'output store retried'),
    });
    this.output = output;
    output.follow(o.engine);
    this.connected = true;
    o.metrics?.connected(true);
    o.onStatus(this.currentStatus());
    void this.watchConnection(nc, output);

    for (const id of await registry.listStreams(o.venue)) this.list(id);
    void registry
      .watchStreams(o.venue, (id) => this.list(id)?.then(() => {}), this.abort.signal)
      .catch((err: unknown) => this.log.warn({ err }, 'stream registry watch ended'));

    const history = new KlineHistory(js, jsm, { venue: o.venue });
    const deps = {
      nc,
      js,
      jsm,
      venue: o.venue,
      history,
      engine: o.engine,
      output,
      snapshots,
      snapshotMs: o.snapshotMs,
      ackWaitMs: o.ackWaitMs,
      logger: o.logger,
      serves: (stream: string) => o.streams.length === 0 || o.streams.includes(stream),
      counters: this.counters,
    };
    const ownership = o.leases
      ? new LeaseOwnership(nc, {
          instance: o.instance,
          instances: o.instances,
          replicas: o.replicas,
          logger: o.logger,
        })
      : new StaticOwnership(o.instance, o.instances);
    this.ownership = ownership;
    const sync = (owned: ReadonlySet<number>) => {
      this.syncing = this.syncing
        .then(() => this.sync(owned, (p) => new PartitionWorker(p, deps)))
        .catch((err: unknown) => this.log.error({ err }, 'partitions not brought in line'));
      return this.syncing;
    };
    this.resync = () => void sync(ownership.owned());
    ownership.onChange((owned) => void sync(owned));
    await ownership.start();
    await sync(ownership.owned());
    this.log.info({ partitions: this.partitions, streams: this.listed.size }, 'worker joined');
  }

  /** Starts workers for partitions now owned and stops those of partitions let go. */
  private async sync(owned: ReadonlySet<number>, create: (p: number) => PartitionWorker): Promise<void> {
    if (this.abort.signal.aborted) return;
    for (const [p, worker] of this.workers) {
      if (owned.has(p)) continue;
      this.workers.delete(p);
      await worker.stop();
      this.log.info({ partition: p }, 'partition let go');
    }
    const starting: Promise<void>[] = [];
    for (const p of owned) {
      if (this.workers.has(p)) continue;
      const worker = create(p);
      this.workers.set(p, worker);
      starting.push(
        worker.start(this.streamsOf(p)).catch(async (err: unknown) => {
          // NATS failed it (a restart, a lost connection): stop what started and try again soon.
          this.log.error({ err, partition: p }, 'partition worker failed to start, retrying');
          if (this.workers.get(p) === worker) this.workers.delete(p);
          await worker.stop().catch(() => {});
          setTimeout(() => this.resync(), 1_000).unref();
        }),
      );
    }
    await Promise.all(starting);
  }

  private streamsOf(partition: number): StreamInfo[] {
    return [...this.listed.values()].filter((info) => partitionOf(info.symbol) === partition);
  }

  /** A kline stream listed in the registry; started at once when its partition is owned here. */
  private list(id: StreamId): Promise<void> | undefined {
    if (id.kind !== 'kline') return undefined;
    const stream = formatStreamName(id);
    const o = this.options;
    if (o.streams.length > 0 && !o.streams.includes(stream)) return undefined;
    if (this.listed.has(stream)) return undefined;
    const info: StreamInfo = { stream, exchange: o.venue, symbol: id.symbol, interval: id.interval };
    this.listed.set(stream, info);
    return this.workers.get(partitionOf(id.symbol))?.addStream(info);
  }

  private async watchConnection(nc: NatsConnection, output: AlgoOutputPublisher): Promise<void> {
    for await (const status of nc.status()) {
      if (this.abort.signal.aborted) return;
      if (status.type === 'disconnect') {
        this.connected = false;
        this.options.metrics?.connected(false);
        this.options.onStatus(this.currentStatus());
      } else if (status.type === 'reconnect') {
        output.reconnected();
        this.connected = true;
        this.options.metrics?.connected(true);
        this.options.metrics?.reconnect();
        this.options.onStatus(this.currentStatus());
      }
    }
  }
}
