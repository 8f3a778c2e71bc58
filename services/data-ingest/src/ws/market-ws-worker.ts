import { parseStreamName, type StreamId } from '@visualgo/market';
import { createLogger, createMetrics, runWsWorker } from '@visualgo/platform';
import { type MarketSessionWire, MarketWsEndpoint, type MarketWsOptions } from './market-ws-endpoint.js';

/** What the front sends each worker as it starts (JSON). */
export interface MarketWsWorkerInit {
  /** Every stream served, as Binance names them. */
  readonly streams: readonly string[];
  readonly logLevel?: string;
  readonly ws: Omit<
    MarketWsOptions,
    'authorize' | 'trustedProxies' | 'allowedOrigins' | 'maxClients' | 'maxClientsPerAddress'
  >;
}

/**
 * A WebSocket worker process of data-ingest (see `MarketWsWorkers`): serves the clients handed to
 * it with the same endpoint as the in-process edge, fed the rendered events by the front.
 */
export function runMarketWsWorker(): void {
  runWsWorker((raw) => {
    const init = raw as MarketWsWorkerInit;
    const logger = createLogger({ name: 'data-ingest', level: init.logLevel ?? 'info' }).child({
      component: 'ws-worker',
      pid: process.pid,
    });
    // The service label as the front's registry has it, so the front can add the series up.
    const metrics = createMetrics('data-ingest', false);
    const ids = init.streams.map((s) => parseStreamName(s)).filter((id): id is StreamId => id !== null);
    const served = new Set(init.streams);
    const endpoint = new MarketWsEndpoint({
      view: { streams: () => ids, hasStream: (s) => served.has(s) },
      logger,
      metrics,
      ws: init.ws,
    });
    return {
      adopt: (req, socket, head, state, address) =>
        endpoint.adopt(req, socket, head, state as MarketSessionWire, address),
      publish: (key, payload) => endpoint.publishRaw(key, payload),
      disconnectAll: (code, reason) => endpoint.disconnectAll(code, reason),
      close: (code, reason, timeoutMs) => endpoint.close(timeoutMs, code, reason),
      metrics: () => metrics.getMetricsAsJSON(),
    };
  });
}
