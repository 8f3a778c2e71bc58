import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { LogThrottle } from './logger.js';
import { rejectUpgrade, WsAdmission } from './ws-admission.js';
import { type SharedConfig, WsConnection } from './ws-fanout-connection.js';
import { WsFrame } from './ws-frame.js';

export { rejectUpgrade, WsAdmission, type WsAdmissionOptions, type WsAdmitted } from './ws-admission.js';
export { FRAME_OVERHEAD_BYTES, SLOT_BYTES, WsConnection } from './ws-fanout-connection.js';
export { createWsFanoutMetrics } from './ws-fanout-metrics.js';
export { WsFrame } from './ws-frame.js';

/** Hooks for counting what the fan-out does; see `createWsFanoutMetrics` for Prometheus ones. */
export interface WsFanoutMetrics {
  clients?(count: number): void;
  connected?(): void;
  slowConsumerDropped?(): void;
  /** Called once per `send` or `broadcast`, with the messages and bytes handed to sockets. */
  messagesOut?(messages: number, bytes: number): void;
  rateLimited?(): void;
  heartbeatTimeout?(): void;
  upgradeRejected?(reason: WsRejectReason): void;
}

/**
 * Why an upgrade was refused: `origin` (403), `unauthorized` (401), `shutting_down` (503),
 * `capacity` (503, `maxClients`), `per_address` (429, `maxClientsPerAddress`), `rejected` (the
 * application's answer, e.g. 400 for an unknown stream).
 */
export type WsRejectReason =
  | 'origin'
  | 'unauthorized'
  | 'shutting_down'
  | 'capacity'
  | 'per_address'
  | 'rejected';

/** Token bucket: `burst` messages at once, refilled at `messagesPerSecond`. */
export interface WsInboundRateLimit {
  readonly messagesPerSecond: number;
  readonly burst: number;
}

export interface WsFanoutOptions<S> {
  readonly logger: Logger;
  /**
   * Bytes a client that is behind (the kernel has not taken the batch handed to its socket at an
   * earlier tick) may be owed before it is cut off as a slow consumer (see `WsConnection.enqueue`
   * for the whole policy). A client owed nothing always gets one message, so a single message
   * larger than this does not drop it. Default 1 MiB.
   */
  readonly maxBufferedBytes?: number;
  /**
   * Memory the clients' backlogs may hold together: every frame some client still holds (queued,
   * or inside its socket until the kernel takes it) counted once, as clients share it, with its
   * objects (`FRAME_OVERHEAD_BYTES`), plus `SLOT_BYTES` (96) per message per client. Each socket
   * holds at most one batch; the rest waits in the client's own queue, so this is what the
   * backlogs hold, not an estimate. A client that is behind (the kernel has not taken the batch
   * handed to its socket at an earlier tick) whose next message would take this past the bound
   * is cut off as a slow consumer, so the memory clients can pin stays bounded whatever they do;
   * a client that keeps up is not cut by it. A tick's burst to clients that keep up is handed to
   * their sockets early once it takes the count to the bound, so the count passes the bound by at
   * most a sixteenth of it. Default 256 MiB.
   */
  readonly maxTotalBufferedBytes?: number;
  /**
   * Messages queued or inside the socket, not yet taken by the kernel; default 8192. Bytes are the real bound
   * (`maxBufferedBytes`); this one only stops floods of tiny messages. It must stay above the
   * largest burst published in one tick (a gap fill releases its candles at once).
   */
  readonly maxQueuedMessages?: number;
  /** Connected clients at most; further upgrades get 503. Default: no limit. */
  readonly maxClients?: number;
  /**
   * Connected clients per client address at most; further upgrades from that address get 429,
   * so one address cannot take every slot of `maxClients`. 0 or unset: no per-address limit.
   */
  readonly maxClientsPerAddress?: number;
  /** Reverse proxies whose `X-Forwarded-For` names the client (see `requestAddress`). */
  readonly trustedProxies?: ReadonlySet<string>;
  /**
   * Checked after the origin: false answers 401 with `WWW-Authenticate: Bearer` (see
   * `BearerAuth`). Unset: every request is authorised.
   */
  readonly authorize?: (req: IncomingMessage) => boolean;
  /** Largest incoming frame; bigger ones close the connection with 1009. Default 16 KiB. */
  readonly maxPayloadBytes?: number;
  /** Ping every this often; a peer that has not answered by the next ping is terminated. 0 disables. Default 20 s. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Incoming data and ping frames per connection. Past the limit the connection is closed with
   * 1008, as Binance does. null disables. Default 10/s with a burst of 20.
   */
  readonly inboundRateLimit?: WsInboundRateLimit | null;
  /**
   * Browser origins allowed to connect; others get 403 at upgrade. Requests without an `Origin`
   * header (non-browser clients) are allowed. Undefined or empty: any origin.
   */
  readonly allowedOrigins?: readonly string[];
  /** A slow consumer is sent 1008 and terminated if its close handshake has not finished by then. Default 2 s. */
  readonly slowConsumerCloseGraceMs?: number;
  readonly metrics?: WsFanoutMetrics;
  readonly now?: () => number;
  readonly onOpen?: (client: WsConnection<S>) => void;
  readonly onMessage?: (client: WsConnection<S>, text: string, isBinary: boolean) => void;
  readonly onClose?: (client: WsConnection<S>, code: number) => void;
}

/** What the application decides for an upgrade request, after the origin check. */
export type WsUpgradeDecision<S> =
  | { readonly accept: true; readonly state: S }
  | { readonly accept: false; readonly status: number; readonly body: string; readonly contentType?: string };

/**
 * Business-free WebSocket client management over a `ws` server in noServer mode: per-client
 * send buffers bounded in bytes and messages, and a bound over all clients (the slow client is cut
 * off with 1008, the others never wait), heartbeat, inbound rate limit, `maxPayload`, origin
 * allowlist and a bounded graceful shutdown.
 *
 * Messages are serialised by the caller once, and framed here once ({@link WsFrame}): every
 * recipient is handed the same Buffer. Each client's frames of one tick go out in one socket write
 * at the end of the tick (`setImmediate`), so the cost per client is one write per tick, not one
 * per message, and a burst costs little more than a single message. A client whose socket has
 * not yet passed its last batch to the kernel keeps what it is owed in its own queue until that
 * write completes, so memory is held where it is counted.
 */
export class WsFanout<S> {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<WsConnection<S>>();
  private readonly config: SharedConfig;
  private readonly admission: WsAdmission;
  private readonly heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly emptyWaiters: (() => void)[] = [];
  private nextId = 1;
  private dirty: WsConnection<unknown>[] = [];
  private flushScheduled = false;
  private readonly endOfTick = (): void => {
    this.flushScheduled = false;
    this.flushDirty();
  };

  constructor(private readonly options: WsFanoutOptions<S>) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      // Compression is per client: it would undo serialise-once and cost CPU per message.
      perMessageDeflate: false,
      maxPayload: options.maxPayloadBytes ?? 16 * 1024,
    });
    this.config = {
      maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
      maxQueuedMessages: options.maxQueuedMessages ?? 8192,
      maxTotalBufferedBytes: options.maxTotalBufferedBytes ?? 256 * 1024 * 1024,
      totalBufferedBytes: 0,
      unflushedBytes: 0,
      schedule: (client) => {
        this.dirty.push(client);
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(this.endOfTick);
        }
      },
      flushNow: () => this.flushDirty(),
      slowConsumerCloseGraceMs: options.slowConsumerCloseGraceMs ?? 2_000,
      rate:
        options.inboundRateLimit === undefined
          ? { messagesPerSecond: 10, burst: 20 }
          : options.inboundRateLimit,
      now: options.now ?? Date.now,
      metrics: options.metrics ?? {},
      logger: options.logger,
      throttle: new LogThrottle(),
    };
    this.admission = new WsAdmission({ ...options, metrics: this.config.metrics });
    const heartbeatMs = options.heartbeatIntervalMs ?? 20_000;
    if (heartbeatMs > 0) {
      this.heartbeatTimer = setInterval(() => {
        for (const c of this.connections) c.heartbeat();
      }, heartbeatMs);
      this.heartbeatTimer.unref();
    }
  }

  get size(): number {
    return this.connections.size;
  }

  clients(): ReadonlySet<WsConnection<S>> {
    return this.connections;
  }

  /** Memory the clients' backlogs hold (see `maxTotalBufferedBytes`). */
  get totalBufferedBytes(): number {
    return this.config.totalBufferedBytes;
  }

  /**
   * Completes (or refuses) an HTTP upgrade: capacity (503) and the per-address cap (429), the
   * origin allowlist (403), the token (401), then the application's `decide` (for instance 400
   * for an unknown stream), then the WebSocket handshake.
   */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    decide: () => WsUpgradeDecision<S>,
  ): void {
    const admitted = this.admission.admit(req, socket, this.connections.size, decide);
    if (!admitted) return;
    // ws completes a valid handshake synchronously, so the per-address count checked above
    // cannot be passed by upgrades in flight.
    this.wss.handleUpgrade(req, socket, head, (ws) =>
      this.attach(ws, socket, admitted.address, admitted.state),
    );
  }

  /**
   * Completes the handshake of a request already admitted elsewhere (the front of an edge whose
   * clients live in worker processes runs {@link WsAdmission} and hands the socket over): no
   * check is repeated here. A request whose handshake is invalid is answered 400 by `ws`.
   */
  adopt(req: IncomingMessage, socket: Duplex, head: Buffer, state: S, address: string): void {
    if (this.admission.shuttingDown) {
      rejectUpgrade(socket, 503, 'server shutting down\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, socket, address, state));
  }

  /**
   * Sends one pre-serialised message to one client; false when not sent (closed, or dropped as
   * slow). A message sent to many clients one by one (a cached snapshot) can be framed once with
   * `WsFrame.text` and passed as is.
   */
  send(client: WsConnection<S>, data: string | Buffer | WsFrame): boolean {
    const frame = toFrame(data);
    const ok = client.enqueue(frame);
    if (ok) this.config.metrics.messagesOut?.(1, frame.payloadBytes);
    return ok;
  }

  /** Sends one message to many clients, framing it once; returns how many it was queued for. */
  broadcast(clients: Iterable<WsConnection<S>>, data: string | Buffer | WsFrame): number {
    let frame: WsFrame | undefined;
    let sent = 0;
    for (const c of clients) {
      frame ??= toFrame(data);
      if (c.enqueue(frame)) sent++;
    }
    if (sent > 0 && frame) this.config.metrics.messagesOut?.(sent, sent * frame.payloadBytes);
    return sent;
  }

  /**
   * Refuses new upgrades, sends every client `code` (1001 "going away" by default) and waits for
   * the close handshakes, terminating whatever is left after `timeoutMs`.
   */
  async closeAll(code = 1001, reason = 'server shutting down', timeoutMs = 2_000): Promise<void> {
    this.admission.shutDown();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const c of this.connections) c.close(code, reason);
    if (this.connections.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.emptyWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      for (const c of this.connections) c.terminate();
    }
    this.wss.close();
  }

  /** Hands every queued batch to its socket (at the end of a tick, or early when memory is short). */
  private flushDirty(): void {
    const dirty = this.dirty;
    this.dirty = [];
    this.config.unflushedBytes = 0;
    for (const c of dirty) c.flush();
  }

  private attach(ws: WebSocket, socket: Duplex, address: string, state: S): void {
    const client = new WsConnection(this.nextId++, state, address, ws, socket, this.config);
    this.connections.add(client);
    this.admission.acquire(address);
    this.config.metrics.connected?.();
    this.config.metrics.clients?.(this.connections.size);
    ws.on('pong', () => client.markAlive());
    ws.on('ping', () => client.admitInbound());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!client.admitInbound()) return;
      this.options.onMessage?.(client, rawDataText(data), isBinary);
    });
    ws.on('error', (err: Error) => {
      // ws closes the socket itself after protocol errors (e.g. 1009 for an oversized frame).
      this.options.logger.debug({ client: client.id, err: err.message }, 'websocket client error');
    });
    ws.once('close', (code: number) => {
      client.release();
      this.connections.delete(client);
      this.admission.release(address);
      this.config.metrics.clients?.(this.connections.size);
      this.options.onClose?.(client, code);
      if (this.connections.size === 0) for (const resolve of this.emptyWaiters.splice(0)) resolve();
    });
    this.options.onOpen?.(client);
  }
}

function toFrame(data: string | Buffer | WsFrame): WsFrame {
  return data instanceof WsFrame ? data : WsFrame.text(data);
}

function rawDataText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
