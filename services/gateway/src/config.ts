import type { ExchangeId } from '@visualgo/market';
import { env } from '@visualgo/platform';
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
const origins = (expected: string) =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .refine((list) => list.every((o) => /^https?:\/\/[^/\s]+$/.test(o)), { error: expected });

/**
 * Every setting of a gateway, from the environment and `--flags`. Documented in `.env.example`.
 * The ports and limits have data-ingest's and trading-algo's names, so a gateway stands in for
 * their edges on the same public ports.
 */
export const gatewayConfigSchema = z.object({
  /** The NATS cluster the market data and the indicators are on (required). */
  NATS_URL: env
    .natsServers()
    .refine((v) => v !== undefined, 'is required: the NATS servers the cluster runs on'),
  /** The client name the NATS server shows for this gateway. */
  GATEWAY_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, - or _')
    .default('gateway'),
  /** Whose market data: binance or sim; also where /api/v3/time and exchangeInfo are asked. */
  MARKET_SOURCE: z.enum(['binance', 'sim'], { error: 'must be binance or sim' }).default('binance'),
  BINANCE_REST_URL: httpUrl.optional(),
  SIM_URL: httpUrl.default('http://127.0.0.1:9100'),
  GATEWAY_HOST: z.string().min(1).default('0.0.0.0'),
  /** data-ingest's HTTP and WebSocket port (Binance's endpoints). */
  INGEST_HTTP_PORT: env.port(8080),
  INGEST_GRPC_PORT: env.port(50051),
  /** trading-algo's HTTP and WebSocket port (/ws, /api/indicators). */
  ALGO_HTTP_PORT: env.port(8090),
  GRPC_MAX_QUEUED: env.int(10_000, 10, 1_000_000),
  GRPC_MAX_STREAMS: env.int(1_000, 1, 100_000),
  GRPC_MAX_STREAMS_PER_ADDRESS: env.int(256, 0, 100_000),
  GRPC_MAX_CONNECTIONS_PER_ADDRESS: env.int(20, 0, 100_000),
  WS_MAX_CLIENTS: env.int(10_000, 1, 1_000_000),
  WS_MAX_CLIENTS_PER_ADDRESS: env.int(100, 0, 1_000_000),
  WS_MAX_BUFFERED_BYTES: env.int(1_048_576, 1024, 1_073_741_824),
  /** Memory all WebSocket clients' backlogs may hold (a shared frame once); past it, clients that are behind are cut off. */
  WS_MAX_TOTAL_BUFFERED_BYTES: env.int(268_435_456, 65_536, 17_179_869_184),
  WS_ALLOWED_ORIGINS: origins('must be origins such as https://example.com, comma-separated'),
  WS_HEARTBEAT_MS: env.int(20_000, 0, 600_000),
  TRUSTED_PROXIES: env.ipList(),
  AUTH_TOKEN: env.token(),
  CORS_ALLOWED_ORIGINS: origins('must be origins such as https://example.com, comma-separated'),
  /** Final points per stream in an indicator snapshot. */
  SNAPSHOT_POINTS: env.int(500, 0, 100_000),
  /** The most /api/indicators serves (the workers' HISTORY_POINTS). */
  HISTORY_POINTS: env.int(2_000, 1, 1_000_000),
  /** How long a history read (klines, indicator points) is served again to the next asker. */
  GATEWAY_CACHE_MS: env.int(1_000, 0, 60_000),
  /** History reads kept in that cache at most. */
  GATEWAY_CACHE_ENTRIES: env.int(1_000, 0, 1_000_000),
  LOG_LEVEL: env.logLevel(),
  LOG_PRETTY: env.optionalBool(),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

export function venueOf(config: GatewayConfig): ExchangeId {
  return config.MARKET_SOURCE === 'sim' ? 'binance-sim' : 'binance';
}

/** The exchange's REST base URL, for its clock and exchangeInfo. */
export function restUrlOf(config: GatewayConfig): string {
  if (config.BINANCE_REST_URL) return config.BINANCE_REST_URL;
  return config.MARKET_SOURCE === 'sim' ? new URL(config.SIM_URL).origin : 'https://api.binance.com';
}
