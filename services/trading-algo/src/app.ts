import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { StatusMessage } from '@visualgo/contracts';
import {
  type BackoffOptions,
  BearerAuth,
  healthRoutes,
  type Logger,
  rejectUpgrade,
  type Shutdown,
  startHttpServer,
} from '@visualgo/platform';
import { Gauge, type Registry } from 'prom-client';
import { createAlgoMetrics } from './algo-metrics.js';
import { ClusterFeed } from './cluster/cluster-feed.js';
import { withStoredHistory } from './cluster/stored-history.js';
import { type AlgoConfig, indicatorConfigOf } from './config.js';
import { IndicatorEngine } from './engine/indicator-engine.js';
import { MarketFeed } from './feed/market-feed.js';
import { indicatorRoutes } from './http/indicator-routes.js';
import { AlgoWsServer } from './ws/algo-ws-server.js';
import { AlgoWsWorkers } from './ws/algo-ws-workers.js';

export interface TradingAlgoDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  /** Components are registered here in start order, so they stop in reverse. */
  readonly shutdown: Shutdown;
  /** Overrides the reconnect backoff built from the config (tests use a fast one without jitter). */
  readonly feedBackoff?: BackoffOptions;
  /**
   * What a WebSocket worker process runs (`WS_WORKERS`); default this program, as started (its
   * `main` runs the worker when forked as one).
   */
  readonly wsWorkerEntry?: { readonly entry: string; readonly execArgv?: readonly string[] };
}

/** The `/ws` edge, in this process or in worker processes. */
export interface AlgoWsEdge {
  readonly clientCount: number;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
  broadcastStatus(message: StatusMessage): void;
  close(): Promise<void>;
}

/** Where candles come from: data-ingest over gRPC (`MarketFeed`), or NATS as a worker of a cluster (`ClusterFeed`). */
export interface AlgoFeed {
  start(): void;
  stop(): Promise<void>;
  readonly isConnected: boolean;
  readonly isReady: boolean;
  currentStatus(): StatusMessage;
  describe(): Record<string, unknown>;
}

export interface TradingAlgo {
  readonly port: number;
  readonly engine: IndicatorEngine;
  readonly feed: AlgoFeed;
  readonly ws: AlgoWsEdge;
}

/**
 * Wires the service: gRPC feed → indicator engine → WebSocket edge, and the HTTP server for
 * `/ws`, `/api/*`, health and metrics. Stop order (reverse of registration): WebSocket clients
 * closed with 1001, feed stopped, HTTP server closed.
 */
export async function startTradingAlgo(config: AlgoConfig, deps: TradingAlgoDeps): Promise<TradingAlgo> {
  const { logger, registry, shutdown } = deps;
  const metrics = createAlgoMetrics(registry);
  const engine = new IndicatorEngine({
    indicators: indicatorConfigOf(config),
    historyPoints: config.HISTORY_POINTS,
    logger,
    metrics: metrics.engine,
  });
  new Gauge({
    name: 'algo_history_points',
    help: 'Final indicator points kept for snapshots and /api/indicators, over every stream',
    registers: [registry],
    collect() {
      this.set(engine.historyStats().points);
    },
  });
  new Gauge({
    name: 'algo_history_bytes',
    help: 'Bytes allocated for the kept points (about 90 a point)',
    registers: [registry],
    collect() {
      this.set(engine.historyStats().bytes);
    },
  });
  let feed: AlgoFeed | null = null;
  const auth = new BearerAuth(config.AUTH_TOKEN);
  const authorize = auth.enabled ? { authorize: (req: IncomingMessage) => auth.authorizes(req) } : {};
  const wsOptions = {
    engine,
    feedStatus: () => {
      if (!feed) throw new Error('feed not started');
      return feed.currentStatus();
    },
    logger,
    snapshotPoints: config.SNAPSHOT_POINTS,
    maxClients: config.WS_MAX_CLIENTS,
    maxClientsPerAddress: config.WS_MAX_CLIENTS_PER_ADDRESS,
    trustedProxies: new Set(config.TRUSTED_PROXIES),
    ...authorize,
    maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
    maxTotalBufferedBytes: config.WS_MAX_TOTAL_BUFFERED_BYTES,
    allowedOrigins: config.WS_ALLOWED_ORIGINS,
    heartbeatIntervalMs: config.WS_HEARTBEAT_MS,
  };
  // Set below, once the feed exists (workers are sent its status as they start); the feed only
  // reports status once started.
  let ws: AlgoWsServer | AlgoWsWorkers | null = null;
  const broadcastStatus = (message: StatusMessage): void => ws?.broadcastStatus(message);
  const cluster = config.NATS_URL
    ? new ClusterFeed({
        servers: config.NATS_URL,
        venue: config.MARKET_SOURCE === 'sim' ? 'binance-sim' : 'binance',
        instance: config.ALGO_INSTANCE,
        instances: config.ALGO_INSTANCES,
        leases: config.ALGO_LEASES,
        snapshotMs: config.ALGO_SNAPSHOT_MS,
        ackWaitMs: config.ALGO_ACK_WAIT_MS,
        historyPoints: config.HISTORY_POINTS,
        replicas: config.NATS_REPLICAS,
        streams: config.ALGO_STREAMS,
        engine,
        logger,
        metrics: metrics.feed,
        onStatus: broadcastStatus,
      })
    : null;
  feed =
    cluster ??
    new MarketFeed({
      target: config.INGEST_GRPC_URL,
      streams: config.ALGO_STREAMS,
      warmupFromMs: (info, latest) => engine.warmupFromMs(info, latest),
      ...(config.INGEST_AUTH_TOKEN ? { authToken: config.INGEST_AUTH_TOKEN } : {}),
      logger,
      metrics: metrics.feed,
      staleMs: config.FEED_STALE_MS,
      backoff: deps.feedBackoff ?? {
        initialMs: config.FEED_RECONNECT_MIN_MS,
        maxMs: config.FEED_RECONNECT_MAX_MS,
      },
      sink: {
        declareStreams: (infos) => engine.declareStreams(infos),
        candle: (stream, candle, bulk) => engine.onCandle(stream, candle, bulk),
        completeFrom: (stream, openTimeMs) => engine.completeFrom(stream, openTimeMs),
        historyLoaded: (stream) => engine.historyLoaded(stream),
        status: broadcastStatus,
      },
    });
  const running = feed;
  const edge =
    config.WS_WORKERS > 0
      ? new AlgoWsWorkers({
          ...wsOptions,
          workers: config.WS_WORKERS,
          worker: deps.wsWorkerEntry ?? { entry: process.argv[1] ?? '' },
          registry,
          fanoutMetrics: metrics.ws.fanout,
          logLevel: config.LOG_LEVEL,
        })
      : new AlgoWsServer({ ...wsOptions, metrics: metrics.ws });
  ws = edge;
  if (edge instanceof AlgoWsWorkers) {
    try {
      await edge.whenReady();
    } catch (err) {
      await edge.close();
      throw err;
    }
  }

  const http = await startHttpServer({
    host: config.ALGO_HOST,
    port: config.ALGO_HTTP_PORT,
    logger,
    ...authorize,
    cors: { origins: config.CORS_ALLOWED_ORIGINS, pathPrefixes: ['/api/'] },
    routes: {
      ...healthRoutes({
        health: () => ({
          feed: running.describe(),
          wsClients: edge.clientCount,
          ...(edge instanceof AlgoWsWorkers ? { wsWorkers: edge.workers.readyWorkers } : {}),
        }),
        ready: () => ({ ready: running.isReady, feedConnected: running.isConnected }),
        // With workers, their clients' series are added to this process's.
        metrics:
          edge instanceof AlgoWsWorkers
            ? { contentType: registry.contentType, metrics: () => edge.metrics() }
            : registry,
      }),
      ...indicatorRoutes({
        // A worker holds the points it computed; those before a restore are in the store.
        engine: cluster ? withStoredHistory(engine, () => cluster.points) : engine,
        defaultLimit: config.SNAPSHOT_POINTS,
        maxLimit: config.HISTORY_POINTS,
      }),
    },
    onUpgrade: (req, socket, head, url) => {
      if (url.pathname === '/ws') edge.handleUpgrade(req, socket, head, url);
      else rejectUpgrade(socket, 404, 'WebSocket endpoint is /ws\n');
    },
  });
  shutdown.register('http', () => http.close());
  running.start();
  shutdown.register('feed', () => running.stop());
  shutdown.register('ws', () => edge.close());
  logger.info(
    { port: http.port, host: config.ALGO_HOST, ingest: config.INGEST_GRPC_URL },
    'trading-algo listening',
  );
  return { port: http.port, engine, feed: running, ws: edge };
}
