import type { SnapshotMessage, StatusMessage } from '@visualgo/contracts';
import { createLogger, createMetrics, runWsWorker, type WsInboundRateLimit } from '@visualgo/platform';
import { createAlgoMetrics } from '../algo-metrics.js';
import type { EngineEvent, StreamInfo } from '../engine/indicator-engine.js';
import type { IndicatorSource } from '../engine/indicator-source.js';
import { type AlgoSessionWire, AlgoWsServer } from './algo-ws-server.js';

/** Record kinds of the front's feed to its workers: the first character of a record's key, then the stream. */
export const FEED = {
  /** A final `indicator` message (the stream's final points changed). */
  final: 'f',
  /** A provisional `indicator` message. */
  provisional: 'p',
  signal: 'g',
  /** The stream's history was (re)loaded; the payload is its new snapshot. */
  historyLoaded: 'h',
  /** A stream became known; the payload is its `StreamInfo`. */
  streamAdded: 'a',
  /** The engine listed its streams; the payload is the list. */
  listed: 'l',
  /** A feed `status` message, for every client. */
  status: 's',
  /** The answer to one worker's snapshot request (JSON, `null` when the stream has none). */
  reply: 'r',
} as const;

/** A worker's request to its front. */
export interface SnapshotRequest {
  readonly type: 'snapshot';
  readonly stream: string;
}

/** What the front sends each worker as it starts (JSON). */
export interface AlgoWsWorkerInit {
  readonly streams: readonly StreamInfo[];
  readonly streamsListed: boolean;
  readonly status: StatusMessage;
  readonly snapshotPoints: number;
  readonly maxBufferedBytes: number;
  readonly maxTotalBufferedBytes: number;
  readonly heartbeatIntervalMs?: number;
  readonly inboundRateLimit?: WsInboundRateLimit | null;
  readonly logLevel?: string;
}

/**
 * A worker's view of the engine, from its front's feed. It keeps no points: a snapshot is asked
 * of the front and held until the stream's next final point (which changes it); the answer comes
 * in order with the feed, so the snapshot and the live messages after it join without a gap.
 */
export class FedIndicators implements IndicatorSource {
  streamsListed: boolean;
  status: StatusMessage;
  private readonly infos = new Map<string, StreamInfo>();
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private readonly versions = new Map<string, number>();
  private readonly held = new Map<string, SnapshotMessage | null>();
  private readonly asked = new Set<string>();

  constructor(
    init: AlgoWsWorkerInit,
    private readonly ask: (request: SnapshotRequest) => void,
  ) {
    this.streamsListed = init.streamsListed;
    this.status = init.status;
    for (const info of init.streams) this.infos.set(info.stream, info);
  }

  /** Applies one feed record, sending what it carries for clients through `server`. */
  apply(kind: string, stream: string, payload: Buffer, server: AlgoWsServer): void {
    switch (kind) {
      case FEED.final:
        this.changed(stream);
        this.held.delete(stream);
        server.publishText(stream, payload);
        return;
      case FEED.provisional:
      case FEED.signal:
        server.publishText(stream, payload);
        return;
      case FEED.historyLoaded:
        this.changed(stream);
        this.held.set(stream, JSON.parse(payload.toString('utf8')) as SnapshotMessage | null);
        this.emit({ type: 'history-loaded', stream });
        return;
      case FEED.reply:
        this.asked.delete(stream);
        this.changed(stream);
        this.held.set(stream, JSON.parse(payload.toString('utf8')) as SnapshotMessage | null);
        return;
      case FEED.streamAdded: {
        const info = JSON.parse(payload.toString('utf8')) as StreamInfo;
        if (this.infos.has(info.stream)) return;
        this.infos.set(info.stream, info);
        this.emit({ type: 'stream-added', info });
        return;
      }
      case FEED.listed:
        for (const info of JSON.parse(payload.toString('utf8')) as StreamInfo[])
          this.infos.set(info.stream, info);
        this.streamsListed = true;
        return;
      case FEED.status: {
        const text = payload.toString('utf8');
        this.status = JSON.parse(text) as StatusMessage;
        server.broadcastStatus(text);
        return;
      }
    }
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  streams(): StreamInfo[] {
    return [...this.infos.values()];
  }

  info(stream: string): StreamInfo | undefined {
    return this.infos.get(stream);
  }

  finalCount(stream: string): number {
    return this.versions.get(stream) ?? 0;
  }

  snapshot(stream: string): SnapshotMessage | null {
    if (this.held.has(stream)) return this.held.get(stream) ?? null;
    if (!this.asked.has(stream)) {
      this.asked.add(stream);
      this.ask({ type: 'snapshot', stream });
    }
    return null;
  }

  snapshotPending(stream: string): boolean {
    return !this.held.has(stream);
  }

  /** Served by the front's HTTP routes, not by workers. */
  history(): null {
    return null;
  }

  private changed(stream: string): void {
    this.versions.set(stream, (this.versions.get(stream) ?? 0) + 1);
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/**
 * A WebSocket worker process of trading-algo (see `AlgoWsWorkers`): serves the clients handed to it
 * with the same `/ws` edge as the in-process one, fed by the front.
 */
export function runAlgoWsWorker(): void {
  runWsWorker((raw, post) => {
    const init = raw as AlgoWsWorkerInit;
    const logger = createLogger({ name: 'trading-algo', level: init.logLevel ?? 'info' }).child({
      component: 'ws-worker',
      pid: process.pid,
    });
    // The service label as the front's registry has it, so the front can add the series up.
    const registry = createMetrics('trading-algo', false);
    const metrics = createAlgoMetrics(registry);
    const source = new FedIndicators(init, post);
    const server = new AlgoWsServer({
      engine: source,
      feedStatus: () => source.status,
      logger,
      metrics: metrics.ws,
      snapshotPoints: init.snapshotPoints,
      maxClients: Number.POSITIVE_INFINITY,
      maxBufferedBytes: init.maxBufferedBytes,
      maxTotalBufferedBytes: init.maxTotalBufferedBytes,
      ...(init.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: init.heartbeatIntervalMs } : {}),
      ...(init.inboundRateLimit !== undefined ? { inboundRateLimit: init.inboundRateLimit } : {}),
    });
    return {
      adopt: (req, socket, head, state, address) =>
        server.adopt(req, socket, head, state as AlgoSessionWire, address),
      publish: (key, payload) => source.apply(key.slice(0, 1), key.slice(1), payload, server),
      disconnectAll: (code, reason) => server.disconnectAll(code, reason),
      close: (code, reason, timeoutMs) => server.close(code, reason, timeoutMs),
      metrics: () => registry.getMetricsAsJSON(),
    };
  });
}
