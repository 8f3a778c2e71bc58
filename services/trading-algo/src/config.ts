import { type IndicatorConfig, parseStreamName, VWAP_ANCHORS, VWAP_SOURCES } from '@visualgo/market';
import { env, loadConfig } from '@visualgo/platform';
import { z } from 'zod';

const isKlineStream = (s: string): boolean => parseStreamName(s)?.kind === 'kline';
const isOrigin = (s: string): boolean => /^https?:\/\/[^/\s]+$/.test(s);

/**
 * A comma-separated list that may be empty (unset means "none"), unlike `env.list`; a bad entry
 * is reported against the variable itself, naming the entry.
 */
function optionalList(valid: (item: string) => boolean, expected: string) {
  return z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .superRefine((items, ctx) => {
      const bad = items.filter((item) => !valid(item));
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `${bad.join(', ')}: ${expected}` });
    });
}

const grpcTarget = z
  .string()
  .default('127.0.0.1:50051')
  .refine((v) => !/^https?:\/\//.test(v) && !/\s/.test(v) && /:\d{1,5}$|^unix:/.test(v), {
    error: 'must be a gRPC target host:port (no http:// scheme), e.g. data-ingest:50051',
  });

/**
 * Every setting of the service, from the environment (flags override: `--algo-http-port 9000`).
 * `.env.example` documents each one; docs/trading-algo.md has the table.
 */
export const algoConfigSchema = z
  .object({
    INGEST_GRPC_URL: grpcTarget,
    /** Bearer token sent to data-ingest (its AUTH_TOKEN); unset: none. */
    INGEST_AUTH_TOKEN: env.token(),
    /** All interfaces by default, as in a container; set 127.0.0.1 to listen locally only. */
    ALGO_HOST: z.string().min(1).default('0.0.0.0'),
    ALGO_HTTP_PORT: env.port(8090),
    /** Empty: every kline stream data-ingest lists. */
    ALGO_STREAMS: optionalList(isKlineStream, 'must be kline stream names such as btcusdt@kline_1m'),
    /** Up to 1000: the warm-up before each epoch grows with the period (docs/trading-algo.md). */
    EMA_PERIOD: env.int(9, 1, 1_000),
    ATR_PERIOD: env.int(14, 1, 1_000),
    VWAP_ANCHOR: z.enum(VWAP_ANCHORS, { error: `must be one of ${VWAP_ANCHORS.join(', ')}` }).default('day'),
    VWAP_SOURCE: z.enum(VWAP_SOURCES, { error: `must be one of ${VWAP_SOURCES.join(', ')}` }).default('hlc3'),
    VWAP_BANDS: env.list(
      z
        .string()
        .transform(Number)
        .pipe(
          z
            .number({ error: 'must be numbers' })
            .refine((m) => m > 0 && m <= 10, 'multipliers must be > 0 and <= 10'),
        ),
      '1,2',
    ),
    RUBBERBAND_K: env.number(2, Number.MIN_VALUE, 100),
    /** Final points sent per stream in a snapshot. */
    SNAPSHOT_POINTS: env.int(500, 0, 100_000),
    /** Final points kept per stream for snapshots and /api/indicators. */
    HISTORY_POINTS: env.int(2_000, 1, 1_000_000),
    FEED_RECONNECT_MIN_MS: env.int(500, 1, 60_000),
    FEED_RECONNECT_MAX_MS: env.int(15_000, 1, 600_000),
    /** No candle message from data-ingest for this long restarts the feed session; 0 disables. */
    FEED_STALE_MS: env
      .int(60_000, 0, 3_600_000)
      .refine((v) => v === 0 || v >= 1_000, 'must be 0 (disabled) or at least 1000'),
    WS_MAX_BUFFERED_BYTES: env.int(1024 * 1024, 1024, 1024 * 1024 * 1024),
    /** Memory all WebSocket clients' backlogs may hold (a shared frame once); past it, clients that are behind are cut off. */
    WS_MAX_TOTAL_BUFFERED_BYTES: env.int(268_435_456, 65_536, 17_179_869_184),
    WS_MAX_CLIENTS: env.int(1_000, 1, 1_000_000),
    /** WebSocket clients per client address; 0: no per-address limit. */
    WS_MAX_CLIENTS_PER_ADDRESS: env.int(50, 0, 1_000_000),
    /** Browser origins allowed on /ws; empty: any. */
    WS_ALLOWED_ORIGINS: optionalList(isOrigin, 'must be origins such as https://example.com'),
    WS_HEARTBEAT_MS: env.int(20_000, 0, 600_000),
    /** Worker processes serving the /ws clients (0: in the main process); not with NATS_URL. */
    WS_WORKERS: env.int(0, 0, 64),
    /** Reverse proxies whose X-Forwarded-For names the client, for per-address limits and logs. */
    TRUSTED_PROXIES: env.ipList(),
    /** Bearer token required on /ws and the REST API (not health); unset: no token. */
    AUTH_TOKEN: env.token(),
    /** Browser origins allowed to read /api/* cross-origin (the dashboard's); empty: none. */
    CORS_ALLOWED_ORIGINS: optionalList(isOrigin, 'must be origins such as https://example.com'),
    /** NATS servers: set, the service is a worker of a cluster (docs/scaling.md); unset, it reads data-ingest over gRPC. */
    NATS_URL: env.natsServers(),
    /** With NATS: whose market data (subjects md.binance.* or md.binance-sim.*). */
    MARKET_SOURCE: z.enum(['binance', 'sim'], { error: 'must be binance or sim' }).default('binance'),
    /** With NATS: this worker's number, 0-based, among ALGO_INSTANCES; it owns partitions p with p mod N = i. */
    ALGO_INSTANCE: env.int(0, 0, 63),
    ALGO_INSTANCES: env.int(1, 1, 64),
    /** With NATS: hold partitions by lease in KV, so live workers take over a dead one's partitions. */
    ALGO_LEASES: env.bool(false),
    /** With NATS: how often each stream's indicator state is saved to KV (after its output is stored). */
    ALGO_SNAPSHOT_MS: env.int(10_000, 100, 3_600_000),
    /**
     * With NATS: how long a delivered closed candle may go unacknowledged before JetStream sends it
     * again (the partition consumers' ack_wait). It must cover a pulled batch (256 candles) and the
     * longest step behind one: taking up a stream, which reads up to 3,827 candles from the store.
     */
    ALGO_ACK_WAIT_MS: env.int(30_000, 1_000, 600_000),
    /** With NATS: replicas of the output stream and the buckets (3 in a NATS cluster). */
    NATS_REPLICAS: env.int(1, 1, 5),
    LOG_LEVEL: env.logLevel(),
    /** Unset: pretty when stdout is a terminal. */
    LOG_PRETTY: env.optionalBool(),
  })
  .superRefine((c, ctx) => {
    if (c.HISTORY_POINTS < c.SNAPSHOT_POINTS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HISTORY_POINTS'],
        message: `must be at least SNAPSHOT_POINTS (${c.SNAPSHOT_POINTS})`,
      });
    }
    if (c.FEED_RECONNECT_MAX_MS < c.FEED_RECONNECT_MIN_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['FEED_RECONNECT_MAX_MS'],
        message: `must be at least FEED_RECONNECT_MIN_MS (${c.FEED_RECONNECT_MIN_MS})`,
      });
    }
    if (c.WS_WORKERS > 0 && c.NATS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['WS_WORKERS'],
        message:
          'is for a single trading-algo; in a cluster, /ws clients are served by gateways (scale those out)',
      });
    }
    if (c.ALGO_INSTANCE >= c.ALGO_INSTANCES) {
      ctx.addIssue({
        code: 'custom',
        path: ['ALGO_INSTANCE'],
        message: `must be below ALGO_INSTANCES (${c.ALGO_INSTANCES})`,
      });
    }
    if ((c.ALGO_INSTANCES > 1 || c.ALGO_LEASES) && !c.NATS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: [c.ALGO_LEASES ? 'ALGO_LEASES' : 'ALGO_INSTANCES'],
        message: 'needs NATS_URL: workers share partitions through NATS',
      });
    }
    if (new Set(c.VWAP_BANDS).size !== c.VWAP_BANDS.length) {
      ctx.addIssue({ code: 'custom', path: ['VWAP_BANDS'], message: 'multipliers must be distinct' });
    }
  });

export type AlgoConfig = z.infer<typeof algoConfigSchema>;

/** Parses and validates the configuration; throws a `ConfigError` naming every bad variable. */
export function loadAlgoConfig(
  source: Readonly<Record<string, string | undefined>>,
  argv: readonly string[] = [],
): AlgoConfig {
  return loadConfig(algoConfigSchema, source, argv);
}

export function indicatorConfigOf(config: AlgoConfig): IndicatorConfig {
  return {
    emaPeriod: config.EMA_PERIOD,
    atrPeriod: config.ATR_PERIOD,
    vwapAnchor: config.VWAP_ANCHOR,
    vwapSource: config.VWAP_SOURCE,
    vwapBands: config.VWAP_BANDS,
    rubberbandK: config.RUBBERBAND_K,
  };
}
