import { klineStreamName } from '@visualgo/market';
import { createMetrics, type Logger } from '@visualgo/platform';
import { Counter, Gauge, type Registry } from 'prom-client';
import { BinanceStreamClient } from '../binance/binance-client.js';
import { BinanceHistorySource } from '../binance/binance-history-source.js';
import { BinanceRestClient } from '../binance/binance-rest.js';
import { UpstreamMetadata } from '../binance/exchange-metadata.js';
import { type GrpcEdge, startGrpcEdge } from '../grpc/grpc-server.js';
import { startIngestHttpEdge } from '../http/ingest-http-edge.js';
import { IngestHub } from '../hub/ingest-hub.js';
import type { StreamDescriptor } from '../hub/market-hub.js';
import { type IngestConfig, upstreamOf } from './config.js';

export interface IngestService {
  readonly hub: IngestHub;
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
}

export function streamsOf(config: IngestConfig): StreamDescriptor[] {
  const out: StreamDescriptor[] = [];
  for (const s of config.SYMBOLS) {
    const symbol = s.toUpperCase();
    for (const interval of config.INTERVALS) {
      out.push({ stream: klineStreamName(symbol, interval), kind: 'kline', symbol, interval });
    }
    if (config.TRADES) out.push({ stream: `${s}@trade`, kind: 'trade', symbol });
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
  const streams = streamsOf(config);
  const rest = new BinanceRestClient({
    baseUrl: upstream.restUrl,
    exchange: upstream.exchange,
    logger: logger.child({ component: 'binance-rest' }),
    ...(overrides.restBackoff ? { backoff: overrides.restBackoff } : {}),
  });
  const hub = new IngestHub({
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
    ...(overrides.fillBackoff ? { fillBackoff: overrides.fillBackoff } : {}),
  });
  const http = await startIngestHttpEdge({
    hub,
    metadata: new UpstreamMetadata({ rest, logger }),
    logger,
    metrics,
    host: config.INGEST_HOST,
    port: config.INGEST_HTTP_PORT,
    corsOrigins: config.CORS_ALLOWED_ORIGINS,
    ws: {
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      maxClients: config.WS_MAX_CLIENTS,
      heartbeatIntervalMs: config.WS_HEARTBEAT_MS,
      allowedOrigins: config.WS_ALLOWED_ORIGINS,
    },
  });
  let grpc: GrpcEdge;
  try {
    grpc = await startGrpcEdge({
      hub,
      logger,
      metrics,
      host: config.INGEST_HOST,
      port: config.INGEST_GRPC_PORT,
      maxQueued: config.GRPC_MAX_QUEUED,
      maxStreams: config.GRPC_MAX_STREAMS,
    });
  } catch (err) {
    await http.close();
    throw err;
  }

  const client = new BinanceStreamClient({
    wsBaseUrl: upstream.wsUrl,
    streams: streams.map((s) => s.stream),
    exchange: upstream.exchange,
    logger: logger.child({ component: 'binance-ws' }),
    maxStreamsPerConnection: config.UPSTREAM_MAX_STREAMS_PER_CONNECTION,
    staleAfterMs: config.UPSTREAM_STALE_MS,
    maxConnectionAgeMs: config.UPSTREAM_MAX_CONNECTION_AGE_MS,
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
  client.on('kline', (u) => hub.ingestCandle(u.stream, u.candle, u.payload));
  client.on('trade', (u) => hub.ingestTrade(u.stream, u.trade, u.payload));
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
  client.start();
  logger.info(
    { exchange: upstream.exchange, ws: upstream.wsUrl, rest: upstream.restUrl, streams: streams.length },
    'ingesting',
  );
  const history = hub.loadHistory().then(updateReadiness);

  return {
    hub,
    client,
    rest,
    grpcPort: grpc.port,
    httpPort: http.port,
    metrics,
    ready,
    async close() {
      await client.stop();
      await hub.stop();
      await history.catch(() => {});
      await grpc.close();
      await http.close();
    },
  };
}

function wireUpstreamMetrics(client: BinanceStreamClient, registry: Registry): void {
  const messages = new Counter({
    name: 'ingest_upstream_messages_total',
    help: 'Data frames received from the exchange, by stream',
    labelNames: ['stream'],
    registers: [registry],
  });
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
  client.on('kline', (u) => messages.inc({ stream: u.stream }));
  client.on('trade', (u) => messages.inc({ stream: u.stream }));
  client.on('malformed', () => malformed.inc());
  client.on('disconnected', (e) => {
    if (!e.planned) drops.inc();
  });
}
