import { z } from 'zod';

/**
 * What `/config.json` tells the page: where the backends are, as the browser reaches them. The
 * production server fills it from its environment, so one build runs anywhere.
 */
export const runtimeConfigSchema = z.strictObject({
  /** trading-algo's HTTP base URL: `/api/indicators`, `/api/streams`. */
  algoHttpUrl: z.url(),
  /** trading-algo's WebSocket endpoint: `ws://host:8090/ws`. */
  algoWsUrl: z.url(),
  /** data-ingest's HTTP base URL: `/api/v3/klines`. */
  ingestHttpUrl: z.url(),
  /** data-ingest's WebSocket base URL: `/stream?streams=...`. */
  ingestWsUrl: z.url(),
  /** The stream shown when the URL names none. */
  defaultStream: z.string().min(1),
  /** trading-algo's RUBBERBAND_K, for the re-arm rule shown in the values panel. */
  rubberbandK: z.number().positive(),
  /** Candles after a signal over which its outcome is shown. */
  signalHorizonCandles: z.number().int().min(1).max(1000),
});

export type RuntimeConfig = z.infer<typeof runtimeConfigSchema>;

export class ConfigLoadError extends Error {
  override readonly name = 'ConfigLoadError';
}

export async function loadRuntimeConfig(fetchFn: typeof fetch, url = '/config.json'): Promise<RuntimeConfig> {
  let body: unknown;
  try {
    // The server answers /config.json with no-store: every load reads the current settings.
    const res = await fetchFn(url);
    if (!res.ok) throw new ConfigLoadError(`${url} answered ${res.status}`);
    body = await res.json();
  } catch (err) {
    if (err instanceof ConfigLoadError) throw err;
    throw new ConfigLoadError(`cannot load ${url}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const parsed = runtimeConfigSchema.safeParse(body);
  if (!parsed.success) throw new ConfigLoadError(`${url} is not valid: ${parsed.error.message}`);
  return parsed.data;
}
