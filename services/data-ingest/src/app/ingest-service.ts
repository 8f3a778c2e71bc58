import type { MarketBus } from '@visualgo/bus';
import { formatStreamName, type StreamId } from '@visualgo/market';
import {
  BearerAuth,
  createMetrics,
  type Logger,
  RatePacer,
  TalliedCounter,
  type TallySeries,
} from '@visualgo/platform';
import { Counter, Gauge, type Registry } from 'prom-client';
import { BinanceStreamClient } from '../binance/binance-client.js';
import { BinanceHistorySource } from '../binance/binance-history-source.js';
import { BinanceRestClient } from '../binance/binance-rest.js';
import { UpstreamMetadata } from '../binance/exchange-metadata.js';
import { type IngestCluster, joinCluster } from '../cluster/ingest-cluster.js';
import { type GrpcEdge, startGrpcEdge } from '../grpc/grpc-server.js';
import { startIngestHttpEdge } from '../http/ingest-http-edge.js';
import { CandleStore } from '../hub/candle-store.js';
import { createIngestHub } from '../hub/create-ingest-hub.js';
import { IngestHub, type IngestHubOptions } from '../hub/ingest-hub.js';
import type { WsWorkerEntry } from '../ws/market-ws-workers.js';
import { type IngestConfig, upstreamOf } from './config.js';

export interface IngestService {
  /** The producer: orders what the exchange sends, fills gaps, answers the edges' queries. */
  readonly hub: IngestHub;
  /** The closed candles held, and the exchange's history behind them. */
  readonly store: CandleStore;
  /** Where the hub publishes and the edges subscribe: in process, or NATS (`NATS_URL`). */
  readonly bus: MarketBus;
  /** With `NATS_URL`: the instance's part of the cluster (its shards, its NATS bus). */
  readonly cluster: IngestCluster | null;
  readonly client: BinanceStreamClient;
  readonly rest: BinanceRestClient;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly metrics: Registry;
  /** Resolves once upstream is connected and history is loaded. */
  readonly ready: Promise<void>;
  /** Stops in reverse start order: upstream, hub, gRPC (streams end UNAVAILABLE), HTTP (WebSockets get 1001). */
  close(): Promise<void>;
}

export interface IngestServiceOverrides {
  /** Upstream tuning for tests (short watchdogs, fast backoff). */
  readonly upstream?: Partial<ConstructorParameters<typeof BinanceStreamClient>[0]>;
  readonly restBackoff?: { initialMs: number; maxMs: number };
  readonly fillBackoff?: { initialMs: number; maxMs: number };
  /**
   * What a WebSocket worker process runs (`WS_WORKERS`); default this program, as started (its
   * `main` runs the worker when forked as one).
   */
  readonly wsWorkerEntry?: WsWorkerEntry;
}

export function streamsOf(config: IngestConfig): StreamId[] {
  const out: StreamId[] = [];
  for (const s of config.SYMBOLS) {
    const symbol = s.toUpperCase();
    for (const interval of config.INTERVALS) out.push({ kind: 'kline', symbol, interval });
    if (config.TRADES) out.push({ kind: 'trade', symbol });
  }
  return out;
}

/** The data-ingest composition root: builds and starts every component, in dependency order. */
export async function startIngestService(
  config: IngestConfig,
  logger: Logger,
  overrides: IngestServiceOverrides = {},
): Promise<IngestService> {
  const upstream = upstreamOf(config);
  const metrics = createMetrics('data-ingest');
  const cluster = config.NATS_URL
    ? await joinCluster(config, upstream.exchange, streamsOf(config), logger, metrics)
    : null;
  // With NATS: this instance's shards only, in shard order (one upstream connection each).
  const streams = cluster ? [...cluster.streams] : streamsOf(config);
  const rest = new BinanceRestClient({
    baseUrl: upstream.restUrl,
    exchange: upstream.exchange,
    logger: logger.child({ component: 'binance-rest' }),
    ...(overrides.restBackoff ? { backoff: overrides.restBackoff } : {}),
  });
  const hubOptions = {
    exchange: upstream.exchange,
    streams,
    historyCandles: config.HISTORY_CANDLES,
    holdDays: config.HISTORY_HOLD_DAYS,
    holdMaxCandles: config.HISTORY_MAX_CANDLES,
    cacheCandles: config.HISTORY_CACHE_CANDLES,
    maxReplayCandles: config.REPLAY_MAX_CANDLES,
    history: new BinanceHistorySource(rest, upstream.exchange),
    logger,
    metrics,
    fillAttempts: config.GAP_FILL_ATTEMPTS,
    maxTradeGapFill: config.TRADE_GAP_FILL_MAX,
    stallGraceMs: config.STREAM_STALL_GRACE_MS,
    ...(overrides.fillBackoff ? { fillBackoff: overrides.fillBackoff } : {}),
  };
  let parts: { hub: IngestHub; store: CandleStore; bus: MarketBus };
  if (cluster) {
    const store = new CandleStore(hubOptions);
    const options: IngestHubOptions = {
      ...hubOptions,
      store,
      bus: cluster.bus,
      onHistory: (stream, candles, signal) =>
        cluster.storeHistory(stream, candles, hubOptions.history, signal),
    };
    parts = { hub: new IngestHub(options), store, bus: cluster.bus };
  } else {
    parts = createIngestHub(hubOptions);
  }
  const { hub, store, bus } = parts;
  const auth = new BearerAuth(config.AUTH_TOKEN);
  const http = await startIngestHttpEdge({
    bus,
    view: hub,
    metadata: new UpstreamMetadata({ rest, logger }),
    logger,
    metrics,
    host: config.INGEST_HOST,
    port: config.INGEST_HTTP_PORT,
    auth,
    corsOrigins: config.CORS_ALLOWED_ORIGINS,
    ws: {
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      maxTotalBufferedBytes: config.WS_MAX_TOTAL_BUFFERED_BYTES,
      maxClients: config.WS_MAX_CLIENTS,
      maxClientsPerAddress: config.WS_MAX_CLIENTS_PER_ADDRESS,
      trustedProxies: new Set(config.TRUSTED_PROXIES),
      heartbeatIntervalMs: config.WS_HEARTBEAT_MS,
      allowedOrigins: config.WS_ALLOWED_ORIGINS,
    },
    wsWorkers: {
      count: config.WS_WORKERS,
      entry: overrides.wsWorkerEntry ?? { entry: process.argv[1] ?? '' },
      logLevel: config.LOG_LEVEL,
    },
  });
  let grpc: GrpcEdge;
  try {
    grpc = await startGrpcEdge({
      bus,
      view: hub,
      logger,
      metrics,
      host: config.INGEST_HOST,
      port: config.INGEST_GRPC_PORT,
      maxQueued: config.GRPC_MAX_QUEUED,
      maxStreams: config.GRPC_MAX_STREAMS,
      maxStreamsPerAddress: config.GRPC_MAX_STREAMS_PER_ADDRESS,
      maxConnectionsPerAddress: config.GRPC_MAX_CONNECTIONS_PER_ADDRESS,
      auth,
    });
  } catch (err) {
    await http.close();
    await cluster?.close();
    throw err;
  }

  const client = new BinanceStreamClient({
    wsBaseUrl: upstream.wsUrl,
    streams: streams.map(formatStreamName),
    exchange: upstream.exchange,
    logger: logger.child({ component: 'binance-ws' }),
    maxStreamsPerConnection: config.UPSTREAM_MAX_STREAMS_PER_CONNECTION,
    staleAfterMs: config.UPSTREAM_STALE_MS,
    maxConnectionAgeMs: config.UPSTREAM_MAX_CONNECTION_AGE_MS,
    ...(cluster ? { connectionAgeMsOf: (i: number) => cluster.connectionAgeMsOf(i) } : {}),
    connectPacer: new RatePacer({
      burst: config.UPSTREAM_CONNECT_BURST,
      rate: config.UPSTREAM_CONNECTS_PER_FIVE_MINUTES,
      perMs: 5 * 60_000,
    }),
    ...overrides.upstream,
  });
  wireUpstreamMetrics(client, metrics);
  const connectedIds = new Set<string>();
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  const updateReadiness = () => {
    const isReady = hub.isReady();
    grpc.setServing(isReady);
    if (isReady) readyResolve();
  };
  client.on('kline', (u) => hub.ingestCandle(u.stream, u.candle));
  client.on('trade', (u) => hub.ingestTrade(u.stream, u.trade));
  client.on('connected', (e) => {
    connectedIds.add(e.connectionId);
    hub.setConnected(true, `${e.streams.length} streams on ${e.connectionId}`);
    updateReadiness();
  });
  client.on('disconnected', (e) => {
    connectedIds.delete(e.connectionId);
    if (connectedIds.size === 0) hub.setConnected(false, e.reason);
    updateReadiness();
  });
  const klineStreams = streams.filter((s) => s.kind === 'kline').length;
  const perAddress = config.GRPC_MAX_STREAMS_PER_ADDRESS;
  if (perAddress > 0 && klineStreams + 1 > perAddress) {
    // trading-algo opens one StreamCandles call per kline stream plus StreamFeedStatus.
    logger.warn(
      { klineStreams, GRPC_MAX_STREAMS_PER_ADDRESS: perAddress },
      'GRPC_MAX_STREAMS_PER_ADDRESS is below what one trading-algo following every kline stream opens',
    );
  }
  client.start();
  logger.info(
    { exchange: upstream.exchange, ws: upstream.wsUrl, rest: upstream.restUrl, streams: streams.length },
    'ingesting',
  );
  const history = hub.loadHistory().then(updateReadiness);
  cluster?.startReporting(hub);
  // Readiness also ends when a connected stream stops accepting events; nothing else would
  // notice, so look every second (cheap: one comparison per kline stream).
  const livenessTimer = setInterval(() => {
    hub.checkLiveness();
    updateReadiness();
  }, 1_000);
  livenessTimer.unref();

  return {
    hub,
    store,
    bus,
    cluster,
    client,
    rest,
    grpcPort: grpc.port,
    httpPort: http.port,
    metrics,
    ready,
    async close() {
      clearInterval(livenessTimer);
      await client.stop();
      await hub.stop();
      await history.catch(() => {});
      await grpc.close();
      await http.close();
      // Last: what the hub published is stored or sent before the connection closes.
      await cluster?.close();
    },
  };
}

function wireUpstreamMetrics(client: BinanceStreamClient, registry: Registry): void {
  const messages = new TalliedCounter<'stream'>({
    name: 'ingest_upstream_messages_total',
    help: 'Data frames received from the exchange, by stream',
    labelNames: ['stream'],
    registers: [registry],
  });
  const byStream = new Map<string, TallySeries>();
  const count = (stream: string): void => {
    let series = byStream.get(stream);
    if (!series) {
      series = messages.series({ stream });
      byStream.set(stream, series);
    }
    series.value++;
  };
  const drops = new Counter({
    name: 'ingest_upstream_disconnects_total',
    help: 'Established exchange connections lost without being planned (each is followed by a reconnect and a gap check)',
    registers: [registry],
  });
  new Gauge({
    name: 'ingest_upstream_connect_failures',
    help: 'Connection attempts to the exchange that failed (refused, DNS, TLS, handshake timeout), since start',
    registers: [registry],
    collect() {
      this.set(client.stats().connectFailures);
    },
  });
  new Gauge({
    name: 'ingest_upstream_stale_disconnects',
    help: 'Connections closed by the stale-data watchdog, since start',
    registers: [registry],
    collect() {
      this.set(client.stats().staleDisconnects);
    },
  });
  const malformed = new Counter({
    name: 'ingest_upstream_malformed_frames_total',
    help: 'Frames from the exchange that failed validation and were dropped',
    registers: [registry],
  });
  new Gauge({
    name: 'ingest_upstream_connections',
    help: 'Open exchange stream connections',
    registers: [registry],
    collect() {
      this.set(client.stats().openConnections);
    },
  });
  new Gauge({
    name: 'ingest_upstream_switchovers',
    help: 'Completed make-before-break connection switches (serverShutdown, age limit)',
    registers: [registry],
    collect() {
      this.set(client.stats().switchovers);
    },
  });
  client.on('kline', (u) => count(u.stream));
  client.on('trade', (u) => count(u.stream));
  client.on('malformed', () => malformed.inc());
  client.on('disconnected', (e) => {
    if (!e.planned) drops.inc();
  });
}
