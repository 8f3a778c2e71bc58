import type { RuntimeConfig } from '../src/app/runtime-config.js';
import type { DashboardConfig } from './config.js';

/**
 * `/config.json` for one request. An explicit URL wins; otherwise the backend is on the host the
 * browser used for this page (its `Host` header, port stripped), on the backend's port, with the
 * page's scheme. The Host header is only echoed back to the same client, never used to route.
 */
export function runtimeConfigFor(
  config: DashboardConfig,
  request: { readonly host: string | undefined; readonly secure: boolean },
): RuntimeConfig {
  const hostname = hostnameOf(request.host) ?? 'localhost';
  const scheme = request.secure ? 'https' : 'http';
  const algo = config.DASHBOARD_ALGO_URL || `${scheme}://${hostname}:${config.DASHBOARD_ALGO_PORT}`;
  const ingest = config.DASHBOARD_INGEST_URL || `${scheme}://${hostname}:${config.DASHBOARD_INGEST_PORT}`;
  return {
    algoHttpUrl: algo,
    algoWsUrl: `${toWs(algo)}/ws`,
    ingestHttpUrl: ingest,
    ingestWsUrl: toWs(ingest),
    defaultStream: config.DASHBOARD_DEFAULT_STREAM,
    rubberbandK: config.RUBBERBAND_K,
    signalHorizonCandles: config.DASHBOARD_SIGNAL_HORIZON,
  };
}

function toWs(url: string): string {
  return url.replace(/^http/, 'ws');
}

/** `localhost:3000` -> `localhost`, `[::1]:3000` -> `[::1]`; null for anything that is not a host. */
export function hostnameOf(host: string | undefined): string | null {
  if (!host) return null;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(host.trim());
  return m?.[1] ?? null;
}
