import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { StatusMessage } from '@visualgo/contracts';
import { type WsFanoutMetrics, WsWorkerPool } from '@visualgo/platform';
import type { Registry } from 'prom-client';
import type { EngineEvent } from '../engine/indicator-engine.js';
import type { IndicatorSource } from '../engine/indicator-source.js';
import type { AlgoWsServerOptions } from './algo-ws-server.js';
import { decideAlgoUpgrade, knownStreamsOf } from './algo-ws-server.js';
import { type AlgoWsWorkerInit, FEED, type SnapshotRequest } from './algo-ws-worker.js';

export interface AlgoWsWorkersOptions extends Omit<AlgoWsServerOptions, 'metrics' | 'snapshotRetryMs'> {
  readonly workers: number;
  /** The module a worker runs (it calls `runAlgoWsWorker` in a worker process), with Node flags. */
  readonly worker: { readonly entry: string; readonly execArgv?: readonly string[] };
  readonly registry: Registry;
  /** Where the front counts the upgrades it refuses (the service's `algo_ws_*` series). */
  readonly fanoutMetrics: WsFanoutMetrics;
  readonly logLevel?: string;
}

/**
 * trading-algo's `/ws` served by `WS_WORKERS` worker processes. This front decides each upgrade
 * (caps over all workers, origin, token, the stream list) and hands the socket to the worker with
 * the fewest clients; it serialises each engine message once and feeds it to every worker; it
 * answers a worker's snapshot request in order with that feed, so the worker sends the snapshot
 * and then exactly the live messages after it, as the in-process edge does.
 */
export class AlgoWsWorkers {
  private readonly pool: WsWorkerPool;
  private readonly unsubscribe: () => void;
  private readonly snapshots = new Map<string, { finalCount: number; json: string }>();
  private listed: boolean;

  constructor(private readonly options: AlgoWsWorkersOptions) {
    const engine = options.engine;
    this.listed = engine.streamsListed;
    const total = options.maxTotalBufferedBytes ?? 256 * 1024 * 1024;
    const init: AlgoWsWorkerInit = {
      streams: engine.streams(),
      streamsListed: engine.streamsListed,
      status: options.feedStatus(),
      snapshotPoints: options.snapshotPoints,
      maxBufferedBytes: options.maxBufferedBytes,
      // The bound over all clients holds for the service: each worker gets its share.
      maxTotalBufferedBytes: Math.max(65_536, Math.floor(total / options.workers)),
      ...(options.heartbeatIntervalMs !== undefined
        ? { heartbeatIntervalMs: options.heartbeatIntervalMs }
        : {}),
      ...(options.inboundRateLimit !== undefined ? { inboundRateLimit: options.inboundRateLimit } : {}),
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    };
    this.pool = new WsWorkerPool({
      workers: options.workers,
      entry: options.worker.entry,
      ...(options.worker.execArgv ? { execArgv: options.worker.execArgv } : {}),
      init,
      logger: options.logger,
      admission: {
        maxClients: options.maxClients,
        ...(options.maxClientsPerAddress ? { maxClientsPerAddress: options.maxClientsPerAddress } : {}),
        ...(options.trustedProxies ? { trustedProxies: options.trustedProxies } : {}),
        ...(options.authorize ? { authorize: options.authorize } : {}),
        ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
        metrics: options.fanoutMetrics,
      },
      metrics: { registry: options.registry, prefix: 'algo_ws' },
      onMessage: (worker, body) => {
        const request = body as SnapshotRequest;
        if (request?.type === 'snapshot' && typeof request.stream === 'string') {
          this.pool.sendTo(worker, FEED.reply + request.stream, this.snapshotJson(request.stream));
        }
      },
    });
    this.unsubscribe = engine.subscribe((event) => this.onEngineEvent(event));
  }

  whenReady(timeoutMs?: number): Promise<void> {
    return this.pool.whenReady(timeoutMs);
  }

  get clientCount(): number {
    return this.pool.size;
  }

  get workers(): WsWorkerPool {
    return this.pool;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    this.pool.handleUpgrade(req, socket, head, () =>
      decideAlgoUpgrade(url, knownStreamsOf(this.options.engine)),
    );
  }

  broadcastStatus(message: StatusMessage): void {
    this.announceListing();
    this.pool.publish(FEED.status, JSON.stringify(message));
  }

  /** This process's metrics with the workers' (clients, messages, drops, client errors) added. */
  metrics(): Promise<string> {
    return this.pool.metrics(this.options.registry);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.pool.close(1001, 'server shutting down');
  }

  private onEngineEvent(event: EngineEvent): void {
    this.announceListing();
    switch (event.type) {
      case 'indicator':
        this.pool.publish(
          (event.message.final ? FEED.final : FEED.provisional) + event.message.stream,
          JSON.stringify(event.message),
        );
        return;
      case 'signal':
        this.pool.publish(FEED.signal + event.message.stream, JSON.stringify(event.message));
        return;
      case 'history-loaded':
        this.pool.publish(FEED.historyLoaded + event.stream, this.snapshotJson(event.stream));
        return;
      case 'stream-added':
        this.pool.publish(FEED.streamAdded + event.info.stream, JSON.stringify(event.info));
        return;
    }
  }

  /** Tells the workers once the engine has listed its streams (unknown names are refused from then on). */
  private announceListing(): void {
    if (this.listed || !this.options.engine.streamsListed) return;
    this.listed = true;
    this.pool.publish(FEED.listed, JSON.stringify(this.options.engine.streams()));
  }

  /** The stream's snapshot as JSON (`null` when it has none), serialised once per change of its final points. */
  private snapshotJson(stream: string): string {
    const engine: IndicatorSource = this.options.engine;
    const finalCount = engine.finalCount(stream);
    const cached = this.snapshots.get(stream);
    if (cached && cached.finalCount === finalCount) return cached.json;
    const json = JSON.stringify(engine.snapshot(stream, this.options.snapshotPoints));
    this.snapshots.set(stream, { finalCount, json });
    return json;
  }
}
