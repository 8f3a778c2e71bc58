import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type CandleEvent, follow, type MarketBus, type TradeEvent } from '@visualgo/bus';
import { formatStreamName } from '@visualgo/market';
import { createWsFanoutMetrics, type Logger, WsWorkerPool } from '@visualgo/platform';
import type { Registry } from 'prom-client';
import { binanceEventText } from './binance-frames.js';
import {
  type MarketStreams,
  type MarketWsOptions,
  MarketWsRouter,
  sessionToWire,
} from './market-ws-endpoint.js';
import type { MarketWsWorkerInit } from './market-ws-worker.js';

/** Where a worker process starts: a module that runs `runMarketWsWorker` in a worker process. */
export interface WsWorkerEntry {
  readonly entry: string;
  /** Node flags; default this process's own. */
  readonly execArgv?: readonly string[];
}

export interface MarketWsWorkersOptions {
  readonly workers: number;
  readonly worker: WsWorkerEntry;
  readonly bus: MarketBus;
  readonly view: MarketStreams;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly logLevel?: string;
  readonly ws?: MarketWsOptions;
}

/**
 * data-ingest's WebSocket endpoints served by `WS_WORKERS` worker processes. This front follows
 * the bus once, renders each event's Binance JSON once, and feeds it to every worker; it decides
 * each upgrade (paths, streams, caps over all workers, origin, token) exactly as the in-process
 * endpoint does and hands the socket to the worker with the fewest clients, which runs the same
 * endpoint (`MarketWsEndpoint`) for it: methods, subscriptions, heartbeat, slow-consumer policy.
 */
export class MarketWsWorkers {
  private readonly router: MarketWsRouter;
  private readonly pool: WsWorkerPool;
  private readonly following = new AbortController();
  private readonly streams: readonly string[];

  constructor(options: MarketWsWorkersOptions) {
    const ws = options.ws ?? {};
    this.router = new MarketWsRouter(options.view, ws.maxStreamsPerConnection);
    this.streams = options.view.streams().map(formatStreamName);
    const perWorker = (bytes: number | undefined): number | undefined =>
      bytes === undefined ? undefined : Math.max(65_536, Math.floor(bytes / options.workers));
    const init: MarketWsWorkerInit = {
      streams: this.streams,
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      ws: {
        ...pick(ws, [
          'maxBufferedBytes',
          'maxQueuedMessages',
          'maxPayloadBytes',
          'heartbeatIntervalMs',
          'inboundRateLimit',
          'slowConsumerCloseGraceMs',
          'maxStreamsPerConnection',
        ]),
        // The bound over all clients holds for the whole service: each worker gets its share.
        maxTotalBufferedBytes: perWorker(ws.maxTotalBufferedBytes ?? 256 * 1024 * 1024),
      },
    };
    const fanoutMetrics = createWsFanoutMetrics(options.metrics, 'ingest_ws');
    this.pool = new WsWorkerPool({
      workers: options.workers,
      entry: options.worker.entry,
      ...(options.worker.execArgv ? { execArgv: options.worker.execArgv } : {}),
      init,
      logger: options.logger,
      admission: { ...ws, metrics: fanoutMetrics },
      metrics: { registry: options.metrics, prefix: 'ingest_ws' },
    });
    const handle = (event: CandleEvent | TradeEvent): void => {
      this.pool.publish(event.stream, binanceEventText.of(event));
    };
    void follow(
      options.bus,
      {
        streams: this.streams,
        types: ['candle', 'trade'],
        maxQueued: 100_000,
        signal: this.following.signal,
        onCutOff: () => {
          options.logger.error('websocket front fell behind the bus, restarting its workers');
          // What the workers' clients missed cannot be served: they reconnect.
          this.pool.restartAll();
        },
        onError: (err: unknown) => options.logger.error({ err }, 'websocket front stopped following the bus'),
      },
      (event) => {
        if (event.type !== 'status') handle(event);
      },
    );
  }

  /** Resolves once every worker serves (or rejects after `timeoutMs`). */
  whenReady(timeoutMs?: number): Promise<void> {
    return this.pool.whenReady(timeoutMs);
  }

  get clientCount(): number {
    return this.pool.size;
  }

  get followedStreams(): readonly string[] {
    return this.streams;
  }

  get workers(): WsWorkerPool {
    return this.pool;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
    const decide = this.router.decideFor(url);
    if (!decide) return false;
    this.pool.handleUpgrade(req, socket, head, () => {
      const decision = decide();
      return decision.accept ? { accept: true, state: sessionToWire(decision.state) } : decision;
    });
    return true;
  }

  /** This process's metrics with the workers' (clients, messages, drops) added. */
  metrics(own: Registry): Promise<string> {
    return this.pool.metrics(own);
  }

  async close(timeoutMs = 2_000): Promise<void> {
    this.following.abort();
    await this.pool.close(1001, 'server shutting down', timeoutMs);
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
