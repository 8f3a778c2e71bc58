import type { IncomingMessage } from 'node:http';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { KlineHistory, MarketRegistry, NatsBus } from '@visualgo/bus/nats';
import {
  BinanceRestClient,
  type GrpcEdge,
  type IngestHttpEdge,
  startGrpcEdge,
  startIngestHttpEdge,
  UpstreamMetadata,
} from '@visualgo/data-ingest';
import { formatStreamName } from '@visualgo/market';
import {
  BearerAuth,
  createMetrics,
  healthRoutes,
  type Logger,
  LogThrottle,
  rejectUpgrade,
  startHttpServer,
} from '@visualgo/platform';
import {
  AlgoWsServer,
  createAlgoMetrics,
  feedStatusMessage,
  indicatorRoutes,
  PointsLog,
  type StreamInfo,
} from '@visualgo/trading-algo';
import { Gauge, type Registry } from 'prom-client';
import { type GatewayConfig, restUrlOf, venueOf } from './config.js';
import { NatsIngestView } from './nats-ingest-view.js';
import { RemoteIndicators } from './remote-indicators.js';

export interface Gateway {
  readonly ingestHttpPort: number;
  readonly grpcPort: number;
  readonly algoHttpPort: number;
  readonly bus: NatsBus;
  readonly view: NatsIngestView;
  readonly indicators: RemoteIndicators;
  readonly http: IngestHttpEdge;
  readonly grpc: GrpcEdge;
  readonly metrics: Registry;
  /** Stops in reverse start order: algo edge, gRPC, HTTP, then NATS. */
  close(): Promise<void>;
}

/**
 * A gateway: data-ingest's and trading-algo's client edges (gRPC MarketData and KlineService,
 * Binance's WebSocket and REST endpoints, the indicators' /ws and /api), without their work: the
 * market data comes from NATS (`NatsBus`, taken per stream as clients want it), history from the
 * JetStream stores, the indicators from the workers' output. It keeps no state a client needs
 * after a reconnection to another gateway, so gateways scale out behind a load balancer.
 */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const venue = venueOf(config);
  const metrics = createMetrics('gateway');
  const servers = config.NATS_URL ?? [];
  const throttle = new LogThrottle();
  // Set once the view watching data-ingest's reports is up; until then producers count as alive
  // while heard from (see StatusMerge).
  let producers: NatsIngestView | null = null;
  const bus = await NatsBus.connect(
    { servers, name: config.GATEWAY_NAME },
    {
      venue,
      // Readers create the streams when missing but never change the producers' settings.
      manageStreams: 'create',
      sourceAlive: (source) => producers?.isProducerAlive(source) ?? false,
      observer: {
        malformed: (subject, reason) => {
          if (throttle.take('malformed') !== null)
            logger.warn({ subject, reason }, 'malformed bus message dropped');
        },
        recovered: (stream, candles) =>
          logger.info({ stream, candles }, 'closed candles recovered from the store'),
        connection: (state) => logger.warn({ state }, `market bus connection ${state}`),
      },
    },
  );
  const closers: (() => Promise<void>)[] = [() => bus.close()];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  };
  try {
    const js = jetstream(bus.connection);
    const jsm = await jetstreamManager(bus.connection);
    const registry = await MarketRegistry.open(bus.connection);
    const view = new NatsIngestView({
      venue,
      registry,
      history: new KlineHistory(js, jsm, { venue }),
      connected: () => bus.isConnected,
      cacheMs: config.GATEWAY_CACHE_MS,
      cacheEntries: config.GATEWAY_CACHE_ENTRIES,
      logger,
    });
    await view.start();
    producers = view;
    closers.push(async () => view.stop());

    const auth = new BearerAuth(config.AUTH_TOKEN);
    const rest = new BinanceRestClient({
      baseUrl: restUrlOf(config),
      exchange: venue,
      logger: logger.child({ component: 'binance-rest' }),
    });
    const http = await startIngestHttpEdge({
      bus,
      view,
      metadata: new UpstreamMetadata({ rest, logger }),
      logger,
      metrics,
      host: config.GATEWAY_HOST,
      port: config.INGEST_HTTP_PORT,
      auth,
      corsOrigins: config.CORS_ALLOWED_ORIGINS,
      followOnDemand: true,
      serviceName: 'gateway',
      ws: {
        maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
        maxTotalBufferedBytes: config.WS_MAX_TOTAL_BUFFERED_BYTES,
        maxClients: config.WS_MAX_CLIENTS,
        maxClientsPerAddress: config.WS_MAX_CLIENTS_PER_ADDRESS,
        trustedProxies: new Set(config.TRUSTED_PROXIES),
        heartbeatIntervalMs: config.WS_HEARTBEAT_MS,
        allowedOrigins: config.WS_ALLOWED_ORIGINS,
      },
    });
    closers.push(() => http.close());
    const grpc = await startGrpcEdge({
      bus,
      view,
      logger,
      metrics,
      host: config.GATEWAY_HOST,
      port: config.INGEST_GRPC_PORT,
      maxQueued: config.GRPC_MAX_QUEUED,
      maxStreams: config.GRPC_MAX_STREAMS,
      maxStreamsPerAddress: config.GRPC_MAX_STREAMS_PER_ADDRESS,
      maxConnectionsPerAddress: config.GRPC_MAX_CONNECTIONS_PER_ADDRESS,
      auth,
    });
    closers.push(() => grpc.close());
    const serving = setInterval(() => {
      grpc.setServing(view.isReady());
      // A data-ingest killed without a word: its streams' merged status learns it here.
      bus.reviewSources();
    }, 1_000);
    serving.unref();
    grpc.setServing(view.isReady());
    closers.push(async () => clearInterval(serving));

    const infos = (): StreamInfo[] =>
      view
        .streams()
        .flatMap((id) =>
          id.kind === 'kline'
            ? [{ stream: formatStreamName(id), exchange: venue, symbol: id.symbol, interval: id.interval }]
            : [],
        );
    const indicators = new RemoteIndicators({
      nc: bus.connection,
      venue,
      points: new PointsLog(js, jsm, venue),
      streams: infos,
      listed: () => view.isListed,
      snapshotPoints: config.SNAPSHOT_POINTS,
      cacheMs: config.GATEWAY_CACHE_MS,
      cacheEntries: config.GATEWAY_CACHE_ENTRIES,
      logger,
    });
    closers.push(async () => indicators.close());
    view.onStream((id) => {
      if (id.kind === 'kline')
        indicators.announce({
          stream: formatStreamName(id),
          exchange: venue,
          symbol: id.symbol,
          interval: id.interval,
        });
    });
    const algoMetrics = createAlgoMetrics(metrics);
    const authorize = auth.enabled ? { authorize: (req: IncomingMessage) => auth.authorizes(req) } : {};
    const ws = new AlgoWsServer({
      engine: indicators,
      feedStatus: () =>
        feedStatusMessage(bus.isConnected ? 'connected' : 'disconnected', Date.now(), {
          detail: bus.isConnected ? 'gateway on NATS' : 'NATS connection lost',
        }),
      logger,
      metrics: algoMetrics.ws,
      snapshotPoints: config.SNAPSHOT_POINTS,
      maxClients: config.WS_MAX_CLIENTS,
      maxClientsPerAddress: config.WS_MAX_CLIENTS_PER_ADDRESS,
      trustedProxies: new Set(config.TRUSTED_PROXIES),
      ...authorize,
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      maxTotalBufferedBytes: config.WS_MAX_TOTAL_BUFFERED_BYTES,
      allowedOrigins: config.WS_ALLOWED_ORIGINS,
      heartbeatIntervalMs: config.WS_HEARTBEAT_MS,
    });
    const algoHttp = await startHttpServer({
      host: config.GATEWAY_HOST,
      port: config.ALGO_HTTP_PORT,
      logger,
      ...authorize,
      cors: { origins: config.CORS_ALLOWED_ORIGINS, pathPrefixes: ['/api/'] },
      routes: {
        ...healthRoutes({
          health: () => ({
            service: 'gateway',
            nats: bus.isConnected,
            wsClients: ws.clientCount,
            followedIndicatorStreams: indicators.followedStreams,
          }),
          ready: () => ({ ready: bus.isConnected && view.isListed, natsConnected: bus.isConnected }),
          metrics,
        }),
        ...indicatorRoutes({
          engine: indicators,
          defaultLimit: config.SNAPSHOT_POINTS,
          maxLimit: config.HISTORY_POINTS,
        }),
      },
      onUpgrade: (req, socket, head, url) => {
        if (url.pathname === '/ws') ws.handleUpgrade(req, socket, head, url);
        else rejectUpgrade(socket, 404, 'WebSocket endpoint is /ws\n');
      },
    });
    closers.push(async () => {
      await ws.close();
      await algoHttp.close();
    });
    new Gauge({
      name: 'gateway_followed_streams',
      help: 'Streams this gateway takes from NATS now, by edge (market data, indicators)',
      labelNames: ['edge'],
      registers: [metrics],
      collect() {
        this.set({ edge: 'market' }, bus.liveStreams.length);
        this.set({ edge: 'indicators' }, indicators.followedStreams.length);
      },
    });
    logger.info(
      {
        nats: servers,
        venue,
        ingestHttpPort: http.port,
        grpcPort: grpc.port,
        algoHttpPort: algoHttp.port,
        streams: view.streams().length,
      },
      'gateway listening',
    );
    return {
      ingestHttpPort: http.port,
      grpcPort: grpc.port,
      algoHttpPort: algoHttp.port,
      bus,
      view,
      indicators,
      http,
      grpc,
      metrics,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
