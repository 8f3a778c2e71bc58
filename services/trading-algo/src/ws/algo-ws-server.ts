import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AlgoServerMessage, ErrorMessage, StatusMessage } from '@visualgo/contracts';
import {
  type Logger,
  LogThrottle,
  SubscriberIndex,
  truncateInput,
  type WsConnection,
  WsFanout,
  WsFrame,
  type WsInboundRateLimit,
  type WsUpgradeDecision,
} from '@visualgo/platform';
import type { WsEdgeMetrics } from '../algo-metrics.js';
import type { EngineEvent } from '../engine/indicator-engine.js';
import type { IndicatorSource } from '../engine/indicator-source.js';
import { checkStreams, parseClientRequest } from './client-request.js';

export interface AlgoWsServerOptions {
  /** The engine of this process, or a gateway's view of the workers' output. */
  readonly engine: IndicatorSource;
  /** The feed's current state, sent first to each new client. */
  readonly feedStatus: () => StatusMessage;
  readonly logger: Logger;
  readonly metrics?: WsEdgeMetrics;
  readonly snapshotPoints: number;
  readonly maxClients: number;
  /** Clients per client address; 0 or unset: no per-address limit. */
  readonly maxClientsPerAddress?: number;
  readonly trustedProxies?: ReadonlySet<string>;
  /** Checked on upgrade after the origin; false answers 401 (see `BearerAuth`). */
  readonly authorize?: (req: IncomingMessage) => boolean;
  readonly maxBufferedBytes: number;
  /** Bytes waiting over every client together (see `WsFanoutOptions.maxTotalBufferedBytes`). */
  readonly maxTotalBufferedBytes?: number;
  readonly allowedOrigins?: readonly string[];
  readonly heartbeatIntervalMs?: number;
  /** Incoming messages per client; default (unset) 10/s with a burst of 20, null disables. */
  readonly inboundRateLimit?: WsInboundRateLimit | null;
  /** How often a client whose buffer is full is retried for its pending snapshots. Default 20 ms. */
  readonly snapshotRetryMs?: number;
}

interface ClientState {
  /** Subscribed to every stream, including those that appear later. */
  followAll: boolean;
  /** Streams this client holds interest in at the source (live and pending), for `retain`/`release`. */
  wanted: Set<string>;
  /** Streams whose snapshot was sent: their live messages go to this client. */
  readonly live: Set<string>;
  /** Streams subscribed to whose snapshot is still to be sent. */
  pending: string[];
  retry: NodeJS.Timeout | null;
}

type Client = WsConnection<ClientState>;

/** A client's decided subscription, as sent to a worker process (JSON). */
export interface AlgoSessionWire {
  readonly followAll: boolean;
  readonly pending: readonly string[];
}

function sessionFromWire(wire: AlgoSessionWire): ClientState {
  return {
    followAll: wire.followAll,
    wanted: new Set(),
    live: new Set(),
    pending: [...wire.pending],
    retry: null,
  };
}

/**
 * The decision for a `/ws` upgrade: `?streams=a,b` limits the subscription (every stream when
 * absent); 400 for an empty, too long or unknown list. `known`: the streams served, null while not
 * listed yet (any well-formed name passes then).
 */
export function decideAlgoUpgrade(
  url: URL,
  known: ReadonlySet<string> | null,
): WsUpgradeDecision<AlgoSessionWire> {
  const param = url.searchParams.get('streams');
  if (param === null) return { accept: true, state: { followAll: true, pending: [] } };
  const streams = [...new Set(param.split(',').map((s) => s.trim()))].filter((s) => s.length > 0);
  const error =
    streams.length === 0
      ? { message: 'streams must name at least one stream, e.g. ?streams=btcusdt@kline_1m' }
      : streams.length > MAX_STREAMS_PER_CLIENT
        ? { message: `at most ${MAX_STREAMS_PER_CLIENT} streams per connection` }
        : checkStreams(streams, known);
  if (error) {
    return {
      accept: false,
      status: 400,
      body: JSON.stringify({ error: error.message }),
      contentType: 'application/json',
    };
  }
  return { accept: true, state: { followAll: false, pending: streams } };
}

/** The streams a source serves, or null while it has not listed them. */
export function knownStreamsOf(source: IndicatorSource): ReadonlySet<string> | null {
  return source.streamsListed ? new Set(source.streams().map((s) => s.stream)) : null;
}

/**
 * The `/ws` edge: per-client stream subscriptions over a {@link WsFanout} (bounded buffers, 1008
 * for slow clients, heartbeat, inbound rate limit, origin allowlist).
 *
 * Every message is serialised once for all its recipients. A client gets each stream's snapshot
 * before any live message of that stream; snapshots are sent as the client's buffer drains, so a
 * burst of them on connect cannot get a client cut off as slow, and live messages of a stream
 * reach it only once its snapshot is out.
 */
/** Streams one WebSocket client may follow, as on Binance's stream connections. */
export const MAX_STREAMS_PER_CLIENT = 1024;

export class AlgoWsServer {
  readonly fanout: WsFanout<ClientState>;
  private readonly index = new SubscriberIndex<Client>();
  /** Each stream's snapshot, serialised and framed once for every client that asks while it holds. */
  private readonly snapshots = new Map<string, { finalCount: number; data: WsFrame }>();
  private readonly log: Logger;
  private readonly throttle = new LogThrottle();
  private readonly unsubscribe: () => void;

  constructor(private readonly options: AlgoWsServerOptions) {
    this.log = options.logger.child({ component: 'ws' });
    this.fanout = new WsFanout<ClientState>({
      logger: this.log,
      maxBufferedBytes: options.maxBufferedBytes,
      ...(options.maxTotalBufferedBytes ? { maxTotalBufferedBytes: options.maxTotalBufferedBytes } : {}),
      maxClients: options.maxClients,
      ...(options.maxClientsPerAddress ? { maxClientsPerAddress: options.maxClientsPerAddress } : {}),
      ...(options.trustedProxies ? { trustedProxies: options.trustedProxies } : {}),
      ...(options.authorize ? { authorize: options.authorize } : {}),
      ...(options.inboundRateLimit !== undefined ? { inboundRateLimit: options.inboundRateLimit } : {}),
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 20_000,
      ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
      ...(options.metrics ? { metrics: options.metrics.fanout } : {}),
      onOpen: (client) => this.onOpen(client),
      onMessage: (client, text, isBinary) => this.onMessage(client, text, isBinary),
      onClose: (client) => this.onClose(client),
    });
    this.unsubscribe = options.engine.subscribe((event) => this.onEngineEvent(event));
  }

  get clientCount(): number {
    return this.fanout.size;
  }

  /** Completes a `/ws` upgrade; `?streams=a,b` limits the subscription (default: every stream). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    this.fanout.handleUpgrade(req, socket, head, () => {
      const decision = decideAlgoUpgrade(url, knownStreamsOf(this.options.engine));
      return decision.accept ? { accept: true, state: sessionFromWire(decision.state) } : decision;
    });
  }

  /** Serves a client admitted by the front of the edge, with the subscription it decided (see `WsFanout.adopt`). */
  adopt(req: IncomingMessage, socket: Duplex, head: Buffer, session: AlgoSessionWire, address: string): void {
    this.fanout.adopt(req, socket, head, sessionFromWire(session), address);
  }

  /** Sends a feed status message to every client. */
  broadcastStatus(message: StatusMessage | string): void {
    this.fanout.broadcast(
      this.fanout.clients(),
      typeof message === 'string' ? message : JSON.stringify(message),
    );
  }

  /** Sends one live message (an `indicator` or `signal`, already serialised) to the stream's live clients. */
  publishText(stream: string, text: string | Buffer): void {
    this.fanout.broadcast(this.index.get(stream), text);
  }

  /** Closes every client with `code` (for instance 1013 when this process fell behind its feed). */
  disconnectAll(code: number, reason: string): void {
    for (const client of this.fanout.clients()) client.close(code, reason);
  }

  /** Closes every client with `code` (1001 by default) and stops accepting. */
  async close(code = 1001, reason = 'server shutting down', timeoutMs = 2_000): Promise<void> {
    this.unsubscribe();
    for (const client of this.fanout.clients()) this.clearRetry(client);
    await this.fanout.closeAll(code, reason, timeoutMs);
  }

  private knownStreams(): ReadonlySet<string> | null {
    return knownStreamsOf(this.options.engine);
  }

  private onOpen(client: Client): void {
    this.fanout.send(client, JSON.stringify(this.options.feedStatus()));
    if (client.state.followAll) client.state.pending = this.options.engine.streams().map((s) => s.stream);
    this.syncInterest(client);
    this.pump(client);
  }

  private onClose(client: Client): void {
    this.clearRetry(client);
    this.index.deleteAll(client.state.live, client);
    this.syncInterest(client, true);
  }

  /** Tells the source which streams this client wants now (new ones first, then those let go). */
  private syncInterest(client: Client, closing = false): void {
    const { retain, release } = this.options.engine;
    if (!retain || !release) return;
    const state = client.state;
    const now = closing ? new Set<string>() : new Set([...state.live, ...state.pending]);
    for (const stream of now) if (!state.wanted.has(stream)) retain.call(this.options.engine, stream);
    for (const stream of state.wanted) if (!now.has(stream)) release.call(this.options.engine, stream);
    state.wanted = now;
  }

  private onMessage(client: Client, text: string, isBinary: boolean): void {
    if (isBinary) {
      this.sendError(
        client,
        { type: 'error', code: 'binary-not-supported', message: 'send JSON text frames' },
        `(binary, ${Buffer.byteLength(text)} bytes)`,
      );
      return;
    }
    const parsed = parseClientRequest(text);
    if (!parsed.ok) {
      this.sendError(client, parsed.error, text);
      return;
    }
    const { op, streams } = parsed.request;
    const error = checkStreams(streams, this.knownStreams());
    if (error) {
      this.sendError(client, error, text);
      return;
    }
    const state = client.state;
    if (op === 'subscribe') {
      const added = streams.filter((s) => !state.live.has(s) && !state.pending.includes(s));
      // Before the feed has listed the served streams any well-formed name passes the check
      // above, so this bound is what keeps one client from growing the index without limit.
      if (state.live.size + state.pending.length + added.length > MAX_STREAMS_PER_CLIENT) {
        this.sendError(
          client,
          {
            type: 'error',
            code: 'bad-request',
            message: `at most ${MAX_STREAMS_PER_CLIENT} streams per connection`,
          },
          text,
        );
        return;
      }
      for (const stream of streams) {
        if (!state.live.has(stream) && !state.pending.includes(stream)) state.pending.push(stream);
      }
    } else {
      // Unsubscribing from one stream turns "everything" into an explicit list.
      state.followAll = false;
      const drop = new Set(streams);
      for (const stream of drop) {
        state.live.delete(stream);
        this.index.delete(stream, client);
      }
      state.pending = state.pending.filter((s) => !drop.has(s));
    }
    this.send(client, { type: 'subscriptions', streams: [...state.live, ...state.pending].sort() });
    this.syncInterest(client);
    this.pump(client);
  }

  private onEngineEvent(event: EngineEvent): void {
    switch (event.type) {
      case 'indicator':
      case 'signal':
        this.fanout.broadcast(this.index.get(event.message.stream), JSON.stringify(event.message));
        return;
      case 'history-loaded': {
        const data = this.snapshotData(event.stream);
        if (data) this.fanout.broadcast(this.index.get(event.stream), data);
        return;
      }
      case 'stream-added':
        for (const client of this.fanout.clients()) {
          const state = client.state;
          if (
            state.followAll &&
            !state.live.has(event.info.stream) &&
            !state.pending.includes(event.info.stream)
          ) {
            state.pending.push(event.info.stream);
            this.syncInterest(client);
            this.pump(client);
          }
        }
        return;
    }
  }

  /** Sends pending snapshots while the client's buffer has room; retries later when it has not. */
  private pump(client: Client): void {
    this.clearRetry(client);
    const state = client.state;
    while (state.pending.length > 0 && client.isOpen) {
      const stream = state.pending[0];
      if (stream === undefined) break;
      const data = this.snapshotData(stream);
      if (!data && this.options.engine.snapshotPending?.(stream)) {
        // The source is fetching it (a worker process asks its front): live messages wait for it.
        state.retry = setTimeout(() => this.pump(client), this.options.snapshotRetryMs ?? 20);
        return;
      }
      if (data) {
        const buffered = client.bufferedBytes;
        if (buffered > 0 && buffered + data.bytes.length > this.options.maxBufferedBytes) {
          state.retry = setTimeout(() => this.pump(client), this.options.snapshotRetryMs ?? 20);
          return;
        }
        if (!this.fanout.send(client, data)) return;
      }
      // A stream not served yet has no snapshot: the client gets one with its warm-up history.
      state.pending.shift();
      state.live.add(stream);
      this.index.add(stream, client);
    }
  }

  private snapshotData(stream: string): WsFrame | null {
    const engine = this.options.engine;
    const finalCount = engine.finalCount(stream);
    const cached = this.snapshots.get(stream);
    if (cached && cached.finalCount === finalCount) return cached.data;
    const snapshot = engine.snapshot(stream, this.options.snapshotPoints);
    if (!snapshot) return null;
    const data = WsFrame.text(JSON.stringify(snapshot));
    this.snapshots.set(stream, { finalCount, data });
    return data;
  }

  private send(client: Client, message: AlgoServerMessage): void {
    this.fanout.send(client, JSON.stringify(message));
  }

  /** Answers a bad client message with an `error`, counts it, and logs a sample (rate-limited). */
  private sendError(client: Client, error: ErrorMessage, text: string): void {
    this.options.metrics?.clientError(error.code);
    const suppressed = this.throttle.take(error.code);
    if (suppressed !== null) {
      this.log.warn(
        {
          client: client.id,
          remoteAddress: client.remoteAddress,
          code: error.code,
          error: error.message,
          sample: truncateInput(text, 200),
          suppressed,
        },
        'bad websocket client message',
      );
    }
    this.send(client, error);
  }

  private clearRetry(client: Client): void {
    if (client.state.retry) clearTimeout(client.state.retry);
    client.state.retry = null;
  }
}
