import { healthRoutes, type Logger, rejectUpgrade, startHttpServer } from '@visualgo/platform';
import type { Registry } from 'prom-client';
import type { ExchangeMetadata } from '../binance/exchange-metadata.js';
import type { MarketHubView } from '../hub/market-hub.js';
import { MarketWsEndpoint, type MarketWsOptions } from '../ws/market-ws-endpoint.js';
import { exchangeRoutes } from './exchange-routes.js';
import { klinesRoute } from './klines-route.js';
import { StreamActivity } from './stream-activity.js';

export interface IngestHttpEdgeOptions {
  readonly hub: MarketHubView;
  /** The upstream exchange's clock and symbols, for `/api/v3/time` and `/api/v3/exchangeInfo`. */
  readonly metadata: ExchangeMetadata;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly host: string;
  /** `INGEST_HTTP_PORT`, 8080 in production; 0 picks a free port. */
  readonly port: number;
  readonly ws?: MarketWsOptions;
  /** Browser origins allowed to read `/api/v3/klines` cross-origin (the dashboard's scroll-back). */
  readonly corsOrigins?: readonly string[];
  /** Upper bound for `close()`; default 3 s. */
  readonly closeTimeoutMs?: number;
}

export interface IngestHttpEdge {
  readonly port: number;
  /** Sends 1001 to WebSocket clients, then stops the HTTP server; resolves within `closeTimeoutMs`. */
  close(): Promise<void>;
}

/**
 * The HTTP port of data-ingest: the WebSocket endpoints (`/ws`, `/ws/<stream>`, `/stream`),
 * Binance's `GET /api/v3/klines`, `ping`, `time` and `exchangeInfo`, and `/healthz`, `/health`,
 * `/readyz`, `/metrics`.
 */
export async function startIngestHttpEdge(options: IngestHttpEdgeOptions): Promise<IngestHttpEdge> {
  const { hub, metrics } = options;
  const logger = options.logger.child({ component: 'http-edge' });
  const closeTimeoutMs = options.closeTimeoutMs ?? 3_000;
  const activity = new StreamActivity(hub);
  const ws = new MarketWsEndpoint({
    hub,
    logger: logger.child({ component: 'ws' }),
    metrics,
    ws: options.ws,
  });
  const server = await startHttpServer({
    host: options.host,
    port: options.port,
    logger,
    cors: { origins: options.corsOrigins ?? [], pathPrefixes: ['/api/'] },
    routes: {
      '/api/v3/klines': klinesRoute(hub),
      ...exchangeRoutes(hub, options.metadata),
      ...healthRoutes({
        health: () => ({
          service: 'data-ingest',
          exchange: hub.exchange,
          ready: hub.isReady(),
          wsClients: ws.clientCount,
          streams: activity.snapshot(),
        }),
        ready: () => ({ ready: hub.isReady(), exchange: hub.exchange }),
        metrics,
      }),
    },
    onUpgrade: (req, socket, head, url) => {
      if (!ws.handleUpgrade(req, socket, head, url)) {
        rejectUpgrade(
          socket,
          404,
          `no WebSocket endpoint at ${url.pathname}; use /ws, /ws/<stream> or /stream\n`,
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
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
