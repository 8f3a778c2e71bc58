import { env, loadConfig } from '@visualgo/platform';
import { z } from 'zod';

const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v ?? '').trim().replace(/\/+$/, ''))
  .refine((v) => v === '' || /^https?:\/\/[^/\s]+(\/\S*)?$/.test(v), {
    error: 'must be an http:// or https:// URL, e.g. https://api.visualgo.example',
  });

/**
 * The dashboard server's settings (flags override: `--dashboard-port 4000`). Backend URLs are the
 * ones a browser uses; unset, each is derived per request from the host the page was loaded from
 * and the backend's port, so the same image works on localhost, a LAN address or a VM.
 */
export const dashboardConfigSchema = z.object({
  DASHBOARD_HOST: z.string().min(1).default('0.0.0.0'),
  DASHBOARD_PORT: env.port(3000),
  DASHBOARD_ALGO_URL: optionalUrl,
  DASHBOARD_ALGO_PORT: env.port(8090),
  DASHBOARD_INGEST_URL: optionalUrl,
  DASHBOARD_INGEST_PORT: env.port(8080),
  DASHBOARD_DEFAULT_STREAM: z
    .string()
    .default('btcusdt@kline_1m')
    .refine((v) => /^[a-z0-9]{2,20}@kline_\d{1,2}[smhdwM]$/.test(v), {
      error: 'must be a kline stream name such as btcusdt@kline_1m',
    }),
  /** The same variable trading-algo reads, so one setting drives both. */
  RUBBERBAND_K: env.number(2, Number.MIN_VALUE, 100),
  DASHBOARD_SIGNAL_HORIZON: env.int(5, 1, 1000),
  /** Built page to serve; default: the Vite build beside this server. */
  DASHBOARD_STATIC_DIR: z.string().optional(),
  LOG_LEVEL: env.logLevel(),
  LOG_PRETTY: env.optionalBool(),
});

export type DashboardConfig = z.infer<typeof dashboardConfigSchema>;

export function loadDashboardConfig(
  source: Readonly<Record<string, string | undefined>>,
  argv: readonly string[] = [],
): DashboardConfig {
  return loadConfig(dashboardConfigSchema, source, argv);
}
