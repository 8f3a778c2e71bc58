import { z } from 'zod';
import type { SimExchangeOptions } from './sim-exchange.js';
import type { SimLogger } from './sim-logger.js';

const int = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

const startTime = z
  .string()
  .transform((value, ctx) => {
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an ISO-8601 time (2025-01-15T12:00:00Z) or epoch milliseconds',
      });
      return z.NEVER;
    }
    return ms;
  })
  .optional();

const symbols = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s.length > 0),
  )
  .pipe(
    z
      .array(z.string().regex(/^[A-Z0-9]{2,20}$/, 'symbols are 2-20 letters or digits, e.g. btcusdt'))
      .min(1, 'must list at least one symbol'),
  )
  .optional();

const replayPaths = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0),
  )
  .optional()
  .transform((paths) => (paths && paths.length > 0 ? paths : undefined));

const speed = z
  .string()
  .transform((value, ctx) => {
    if (value.trim().toLowerCase() === 'max') return 'max' as const;
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 100_000) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a number greater than 0 and at most 100000, or max (as fast as clients take it)',
      });
      return z.NEVER;
    }
    return n;
  })
  .default(1);

/** Every setting of the simulated exchange, as environment variables (or `--sim-port=9100` flags). */
export const simConfigSchema = z.object({
  SIM_PORT: int(9100, 0, 65535),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  SIM_SEED: z.string().min(1).default('visualgo'),
  SIM_START: startTime,
  SIM_SPEED: speed,
  SIM_SYMBOLS: symbols,
  SIM_REPLAY: replayPaths,
  SIM_HISTORY_DAYS: int(7, 0, 366),
  SIM_PING_INTERVAL_MS: int(20_000, 10, 3_600_000),
  SIM_PONG_TIMEOUT_MS: int(60_000, 10, 3_600_000),
  SIM_MAX_CONNECTION_MS: int(86_400_000, 100, 7 * 86_400_000),
  SIM_MAX_STREAMS: int(1024, 1, 100_000),
  SIM_MAX_MESSAGES_PER_SECOND: int(5, 1, 100_000),
  SIM_REST_WEIGHT_LIMIT: int(6000, 1, 10_000_000),
  SIM_CONTROL_API: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  LOG_PRETTY: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((v) => v === 'true')
    .optional(),
});

export type SimConfig = z.infer<typeof simConfigSchema>;

export function simExchangeOptions(config: SimConfig, logger?: SimLogger): SimExchangeOptions {
  return {
    host: config.SIM_HOST,
    port: config.SIM_PORT,
    seed: config.SIM_SEED,
    startMs: config.SIM_START,
    speed: config.SIM_SPEED,
    clock: 'scaled',
    symbols: config.SIM_SYMBOLS,
    replay: config.SIM_REPLAY,
    historyDays: config.SIM_HISTORY_DAYS,
    pingIntervalMs: config.SIM_PING_INTERVAL_MS,
    pongTimeoutMs: config.SIM_PONG_TIMEOUT_MS,
    maxConnectionMs: config.SIM_MAX_CONNECTION_MS,
    maxStreamsPerConnection: config.SIM_MAX_STREAMS,
    maxMessagesPerSecond: config.SIM_MAX_MESSAGES_PER_SECOND,
    restWeightLimit: config.SIM_REST_WEIGHT_LIMIT,
    controlApi: config.SIM_CONTROL_API,
    logger,
  };
}
