import { type ExchangeId, INTERVALS } from '@visualgo/market';
import { env } from '@visualgo/platform';
import { z } from 'zod';

const symbol = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.string().regex(/^[a-z0-9]{2,20}$/, 'symbols are 2-20 letters or digits, e.g. btcusdt'));
const interval = z.enum(INTERVALS, {
  error: 'intervals are Binance codes: 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w, 1M',
});
const wsUrl = z.url({ protocol: /^wss?$/, error: 'must be a ws:// or wss:// URL' });
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** Every setting of data-ingest, from the environment and `--flags`. Documented in .env.example. */
export const ingestConfigSchema = z
  .object({
    MARKET_SOURCE: z.enum(['binance', 'sim'], { error: 'must be binance or sim' }).default('binance'),
    BINANCE_WS_URL: wsUrl.optional(),
    BINANCE_REST_URL: httpUrl.optional(),
    /** Where the simulated exchange listens when MARKET_SOURCE=sim and the URLs above are unset. */
    SIM_URL: httpUrl.default('http://127.0.0.1:9100'),
    SYMBOLS: env.list(symbol, 'btcusdt,ethusdt,bnbbtc'),
    INTERVALS: env.list(interval, '1m'),
    TRADES: env.bool(true),
    HISTORY_CANDLES: env.int(1000, 1, 100_000),
    /** Days of closed candles held per stream once asked for (a month, and the warm-up before it). */
    HISTORY_HOLD_DAYS: env.int(33, 1, 400),
    /** Upper bound on the candles held per stream, whatever the interval (1s streams). */
    HISTORY_MAX_CANDLES: env.int(50_000, 1_000, 5_000_000),
    /** Older history kept in the page cache, over every stream. */
    HISTORY_CACHE_CANDLES: env.int(200_000, 0, 50_000_000),
    /** Candles a StreamCandles resume may replay from beyond the held history. */
    REPLAY_MAX_CANDLES: env.int(100_000, 1_000, 10_000_000),
    INGEST_HOST: z.string().min(1).default('0.0.0.0'),
    INGEST_GRPC_PORT: env.port(50051),
    INGEST_HTTP_PORT: env.port(8080),
    GRPC_MAX_QUEUED: env.int(10_000, 10, 1_000_000),
    GRPC_MAX_STREAMS: env.int(1_000, 1, 100_000),
    /** Open streaming calls per client address; 0: no per-address limit. */
    GRPC_MAX_STREAMS_PER_ADDRESS: env.int(256, 0, 100_000),
    /** Open gRPC connections per client address; 0: no per-address limit. */
    GRPC_MAX_CONNECTIONS_PER_ADDRESS: env.int(20, 0, 100_000),
    WS_MAX_CLIENTS: env.int(10_000, 1, 1_000_000),
    /** WebSocket clients per client address; 0: no per-address limit. */
    WS_MAX_CLIENTS_PER_ADDRESS: env.int(100, 0, 1_000_000),
    WS_MAX_BUFFERED_BYTES: env.int(1_048_576, 1024, 1_073_741_824),
    /** Memory all WebSocket clients' backlogs may hold (a shared frame once); past it, clients that are behind are cut off. */
    WS_MAX_TOTAL_BUFFERED_BYTES: env.int(268_435_456, 65_536, 17_179_869_184),
    WS_ALLOWED_ORIGINS: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      ),
    WS_HEARTBEAT_MS: env.int(20_000, 0, 600_000),
    /** Worker processes serving the WebSocket clients (0: in the main process). */
    WS_WORKERS: env.int(0, 0, 64),
    /** Reverse proxies whose X-Forwarded-For names the client, for per-address limits and logs. */
    TRUSTED_PROXIES: env.ipList(),
    /** Bearer token required on gRPC, WebSocket and REST (not health); unset: no token. */
    AUTH_TOKEN: env.token(),
    /** Browser origins allowed to read /api/* cross-origin (the dashboard's); empty: none. */
    CORS_ALLOWED_ORIGINS: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .refine((list) => list.every((o) => /^https?:\/\/[^/\s]+$/.test(o)), {
        error: 'must be origins such as https://example.com, comma-separated',
      }),
    UPSTREAM_STALE_MS: env.int(30_000, 1_000, 600_000),
    /** Streams per exchange connection (a shard); Binance allows 1024, we stay at 500 at most. */
    UPSTREAM_MAX_STREAMS_PER_CONNECTION: env.int(200, 1, 500),
    UPSTREAM_MAX_CONNECTION_AGE_MS: env.int(23 * 3_600_000, 60_000, 24 * 3_600_000),
    /** Connections' planned rollovers are spread over this window before the age above. */
    UPSTREAM_ROLLOVER_SPREAD_MS: env.int(2 * 3_600_000, 0, 12 * 3_600_000),
    /** Connection attempts allowed at once, then paced (Binance: 300 per 5 minutes per IP). */
    UPSTREAM_CONNECT_BURST: env.int(20, 1, 300),
    UPSTREAM_CONNECTS_PER_FIVE_MINUTES: env.int(60, 1, 300),
    GAP_FILL_ATTEMPTS: env.int(5, 1, 100),
    /** A kline stream accepting no event for its interval plus this long makes the service not ready. */
    STREAM_STALL_GRACE_MS: env.int(60_000, 1_000, 86_400_000),
    TRADE_GAP_FILL_MAX: env.int(10_000, 0, 1_000_000),
    /** NATS servers: set, data-ingest publishes on NATS JetStream (a cluster); unset, in process. */
    NATS_URL: env.natsServers(),
    /** This instance's number, 0-based, among INGEST_INSTANCES (with NATS). */
    INGEST_INSTANCE: env.int(0, 0, 999),
    /** Instances sharing the streams (with NATS): each shard is owned by two of them. */
    INGEST_INSTANCES: env.int(1, 1, 1000),
    /** Closed candles JetStream keeps per kline stream (its max_msgs_per_subject). */
    NATS_KLINE_HISTORY: env.int(6_000, 100, 1_000_000),
    /** Replicas of the JetStream streams and buckets: 1 on one server, 3 in a NATS cluster. */
    NATS_REPLICAS: env.int(1, 1, 5),
    LOG_LEVEL: env.logLevel(),
    /** Unset: pretty when stdout is a terminal. */
    LOG_PRETTY: env.optionalBool(),
  })
  .superRefine((config, ctx) => {
    if (config.INGEST_INSTANCE >= config.INGEST_INSTANCES) {
      ctx.addIssue({
        code: 'custom',
        path: ['INGEST_INSTANCE'],
        message: `must be below INGEST_INSTANCES (${config.INGEST_INSTANCES})`,
      });
    }
    if (config.INGEST_INSTANCES > 1 && !config.NATS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['INGEST_INSTANCES'],
        message: 'above 1 needs NATS_URL: instances share their streams through NATS',
      });
    }
  });

export type IngestConfig = z.infer<typeof ingestConfigSchema>;

/** The upstream endpoints and the exchange label every candle carries. */
export function upstreamOf(config: IngestConfig): {
  readonly exchange: ExchangeId;
  readonly wsUrl: string;
  readonly restUrl: string;
} {
  if (config.MARKET_SOURCE === 'sim') {
    const sim = new URL(config.SIM_URL);
    return {
      exchange: 'binance-sim',
      wsUrl: config.BINANCE_WS_URL ?? `ws://${sim.host}`,
      restUrl: config.BINANCE_REST_URL ?? sim.origin,
    };
  }
  return {
    exchange: 'binance',
    wsUrl: config.BINANCE_WS_URL ?? 'wss://stream.binance.com:9443',
    restUrl: config.BINANCE_REST_URL ?? 'https://api.binance.com',
  };
}
