import type { IncomingMessage } from 'node:http';
import type { MarketBus } from '@visualgo/bus';
import {
  type BearerAuth,
  healthRoutes,
  type Logger,
  rejectUpgrade,
  startHttpServer,
  truncateInput,
} from '@visualgo/platform';
import type { Registry } from 'prom-client';
import type { ExchangeMetadata } from '../binance/exchange-metadata.js';
import type { IngestView } from '../hub/ingest-view.js';
import { MarketWsEndpoint, type MarketWsOptions } from '../ws/market-ws-endpoint.js';
import { MarketWsWorkers, type WsWorkerEntry } from '../ws/market-ws-workers.js';
import { exchangeRoutes } from './exchange-routes.js';
import { klinesRoute } from './klines-route.js';
import { StreamActivity } from './stream-activity.js';

export interface IngestHttpEdgeOptions {
  /** Where the WebSocket endpoints and `/healthz` take events from. */
  readonly bus: MarketBus;
  /** Streams, history, readiness. */
  readonly view: IngestView;
  /** The upstream exchange's clock and symbols, for `/api/v3/time` and `/api/v3/exchangeInfo`. */
  readonly metadata: ExchangeMetadata;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly host: string;
  /** `INGEST_HTTP_PORT`, 8080 in production; 0 picks a free port. */
  readonly port: number;
  readonly ws?: MarketWsOptions;
  /**
   * Serve the WebSocket endpoints from this many worker processes (`WS_WORKERS`), each started
   * from `entry`; unset or 0 workers: in this process.
   */
  readonly wsWorkers?: { readonly count: number; readonly entry: WsWorkerEntry; readonly logLevel?: string };
  /** Bearer token required on every route but health and readiness, and on WebSocket upgrades. */
  readonly auth?: BearerAuth;
  /** Browser origins allowed to read `/api/v3/klines` cross-origin (the dashboard's scroll-back). */
  readonly corsOrigins?: readonly string[];
  /** Upper bound for `close()`; default 3 s. */
  readonly closeTimeoutMs?: number;
  /**
   * Follow on the bus only the streams WebSocket clients want (a gateway in front of NATS); the
   * per-stream activity of `/healthz` is then not kept. Default false.
   */
  readonly followOnDemand?: boolean;
  /** The service named on `/healthz`; default `data-ingest`. */
  readonly serviceName?: string;
}

export interface IngestHttpEdge {
  readonly port: number;
  /** Streams the WebSocket endpoints follow on the bus now. */
  followedStreams(): readonly string[];
  /** Sends 1001 to WebSocket clients, then stops the HTTP server; resolves within `closeTimeoutMs`. */
  close(): Promise<void>;
}

/**
 * The HTTP port of data-ingest: the WebSocket endpoints (`/ws`, `/ws/<stream>`, `/stream`),
 * Binance's `GET /api/v3/klines`, `ping`, `time` and `exchangeInfo`, and `/healthz`, `/health`,
 * `/readyz`, `/metrics`.
 */
export async function startIngestHttpEdge(options: IngestHttpEdgeOptions): Promise<IngestHttpEdge> {
  const { bus, view, metrics } = options;
  const logger = options.logger.child({ component: 'http-edge' });
  const closeTimeoutMs = options.closeTimeoutMs ?? 3_000;
  const activity = new StreamActivity(bus, view, Date.now, !options.followOnDemand);
  const auth = options.auth;
  const wsOptions = auth?.enabled
    ? { ...options.ws, authorize: (req: IncomingMessage) => auth.authorizes(req) }
    : options.ws;
  const workers = options.wsWorkers && options.wsWorkers.count > 0 ? options.wsWorkers : null;
  if (workers && options.followOnDemand) {
    throw new Error('WebSocket workers serve every stream; they cannot follow streams on demand');
  }
  const ws = workers
    ? new MarketWsWorkers({
        workers: workers.count,
        worker: workers.entry,
        bus,
        view,
        logger: logger.child({ component: 'ws' }),
        metrics,
        ...(workers.logLevel ? { logLevel: workers.logLevel } : {}),
        ...(wsOptions ? { ws: wsOptions } : {}),
      })
    : new MarketWsEndpoint({
        bus,
        view,
        followOnDemand: options.followOnDemand ?? false,
        logger: logger.child({ component: 'ws' }),
        metrics,
        ...(wsOptions ? { ws: wsOptions } : {}),
      });
  if (ws instanceof MarketWsWorkers) {
    try {
      await ws.whenReady();
    } catch (err) {
      await ws.close(0);
      throw err;
    }
  }
  const server = await startHttpServer({
    host: options.host,
    port: options.port,
    logger,
    ...(auth?.enabled ? { authorize: (req) => auth.authorizes(req) } : {}),
    cors: {
      origins: options.corsOrigins ?? [],
      pathPrefixes: ['/api/'],
      exposeHeaders: ['x-history-partial', 'x-history-oldest-open-time'],
    },
    routes: {
      '/api/v3/klines': klinesRoute(view),
      ...exchangeRoutes(view, options.metadata),
      ...healthRoutes({
        health: () => ({
          service: options.serviceName ?? 'data-ingest',
          exchange: view.exchange,
          ready: view.isReady(),
          wsClients: ws.clientCount,
          ...(ws instanceof MarketWsWorkers ? { wsWorkers: ws.workers.readyWorkers } : {}),
          ...(options.followOnDemand
            ? { followedStreams: ws.followedStreams }
            : { streams: activity.snapshot() }),
        }),
        ready: () => {
          const { ready, reasons } = view.readiness();
          return { ready, exchange: view.exchange, reasons };
        },
        // With workers, their clients' series are added to this process's.
        metrics:
          ws instanceof MarketWsWorkers
            ? { contentType: metrics.contentType, metrics: () => ws.metrics(metrics) }
            : metrics,
      }),
    },
    onUpgrade: (req, socket, head, url) => {
      if (!ws.handleUpgrade(req, socket, head, url)) {
        rejectUpgrade(
          socket,
          404,
          `no WebSocket endpoint at ${truncateInput(url.pathname)}; use /ws, /ws/<stream> or /stream\n`,
        );
      }
    },
  });
  logger.info({ port: server.port }, 'http edge listening');

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const deadline = Date.now() + closeTimeoutMs;
    // WebSocket clients get most of the budget for their close handshakes; the rest stops HTTP.
    await ws.close(Math.max(0, Math.floor(closeTimeoutMs * 0.6)));
    activity.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      server.close(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    logger.info('http edge closed');
  };
  return {
    port: server.port,
    followedStreams: () => ws.followedStreams,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
