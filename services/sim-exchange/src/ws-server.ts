import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { FeedEvent, FeedKind } from './market-feed.js';
import { type SimLogger, silentLogger } from './sim-logger.js';
import {
  errorReply,
  isWellFormedStreamName,
  type MethodName,
  parseMethodRequest,
  resultReply,
} from './ws-methods.js';

export interface StreamServerOptions {
  /** Server ping period (Binance: 20 s). */
  readonly pingIntervalMs: number;
  /** A peer that has not answered a ping within this is dropped (Binance: 1 min). */
  readonly pongTimeoutMs: number;
  /** Connection lifetime cap (Binance: 24 h). */
  readonly maxConnectionMs: number;
  /** Streams per connection (Binance: 1024). */
  readonly maxStreamsPerConnection: number;
  /** Incoming messages (text, ping, pong) per second before the connection is closed (Binance: 5). */
  readonly maxMessagesPerSecond: number;
  /** A client this far behind on reading is cut off. */
  readonly maxBufferedBytes: number;
  /** Largest incoming frame accepted. */
  readonly maxPayloadBytes: number;
  /** Market time, for the `E` of `serverShutdown`. */
  readonly marketNowMs: () => number;
  readonly wallNowMs?: () => number;
  readonly logger?: SimLogger;
  /** Called whenever the set of streams with at least one listener changes. */
  readonly onInterestChanged: (streams: ReadonlySet<string>) => void;
  readonly metrics?: StreamServerMetrics;
}

/** What a message to a client was: a market event of one kind, or anything else (replies, faults). */
export type MessageKind = FeedKind | 'other';

/** Hooks for counting what the stream server does; `SimMetrics` implements them for Prometheus. */
export interface StreamServerMetrics {
  connectionOpened(open: number): void;
  connectionClosed(reason: CloseReason, open: number): void;
  /** Called once per event (or reply) with the number of connections it was handed to. */
  messagesSent(kind: MessageKind, count: number): void;
  /** `method` is null when the request could not be read far enough to name a known method. */
  methodRequest(method: MethodName | null, outcome: 'ok' | 'error'): void;
}

const noMetrics: StreamServerMetrics = {
  connectionOpened: () => {},
  connectionClosed: () => {},
  messagesSent: () => {},
  methodRequest: () => {},
};

/** Selects connections for a fault; an empty filter selects all. */
export interface ConnectionFilter {
  readonly ids?: readonly number[];
  /** Connections subscribed to this stream. */
  readonly stream?: string;
}

export interface ConnectionInfo {
  readonly id: number;
  readonly path: string;
  readonly combined: boolean;
  readonly streams: readonly string[];
  readonly remoteAddress: string;
  readonly openedAtMs: number;
  readonly stalled: boolean;
  /** Text and binary frames received. */
  readonly messagesReceived: number;
  /** Wall times of the last (up to 100) text frames received, for pacing checks. */
  readonly recentMessageTimesMs: readonly number[];
}

export const CLOSE_REASONS = [
  'client',
  'dropped',
  'pong-timeout',
  'rate-limit',
  'lifetime',
  'server-shutdown',
  'slow-consumer',
  'server-closed',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export interface StreamServerEvents {
  connected(info: ConnectionInfo): void;
  disconnected(info: ConnectionInfo, reason: CloseReason): void;
}

class StreamConnection {
  readonly streams = new Set<string>();
  stalledUntilMs = 0;
  lastPingMs: number;
  readonly outstandingPings: { payload: string; sentMs: number }[] = [];
  readonly inbound: number[] = [];
  readonly recentMessages: number[] = [];
  messagesReceived = 0;
  closeReason: CloseReason = 'client';
  shutdownTimer: NodeJS.Timeout | null = null;
  pingCounter = 0;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly path: string,
    public combined: boolean,
    readonly remoteAddress: string,
    readonly openedAtMs: number,
  ) {
    this.lastPingMs = openedAtMs;
  }

  stalled(nowMs: number): boolean {
    return this.stalledUntilMs > nowMs;
  }
}

/** Binance-style market-data WebSocket endpoint: raw and combined streams, methods, liveness. */
export class StreamServer {
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<number, StreamConnection>();
  private readonly byStream = new Map<string, Set<StreamConnection>>();
  private readonly timer: NodeJS.Timeout;
  private readonly log: SimLogger;
  private readonly wallNow: () => number;
  private readonly metrics: StreamServerMetrics;
  private nextId = 1;
  private readonly listeners: { [K in keyof StreamServerEvents]: StreamServerEvents[K][] } = {
    connected: [],
    disconnected: [],
  };

  constructor(private readonly options: StreamServerOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'ws' });
    this.wallNow = options.wallNowMs ?? Date.now;
    this.metrics = options.metrics ?? noMetrics;
    this.wss = new WebSocketServer({
      noServer: true,
      autoPong: false,
      maxPayload: options.maxPayloadBytes,
      perMessageDeflate: false,
    });
    const housekeepingMs = Math.max(
      5,
      Math.min(1_000, options.pingIntervalMs / 4, options.pongTimeoutMs / 4, options.maxConnectionMs / 4),
    );
    this.timer = setInterval(() => this.housekeeping(), housekeepingMs);
    this.timer.unref();
  }

  on<K extends keyof StreamServerEvents>(event: K, listener: StreamServerEvents[K]): void {
    this.listeners[event].push(listener);
  }

  /** Accepts an HTTP upgrade for `/ws`, `/ws/<streams>` or `/stream?streams=`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    let combined: boolean;
    let names: string[];
    if (url.pathname === '/ws' || url.pathname.startsWith('/ws/')) {
      combined = false;
      names = url.pathname.slice('/ws'.length).split('/');
    } else if (url.pathname === '/stream' || url.pathname === '/stream/') {
      combined = true;
      names = (url.searchParams.get('streams') ?? '').split('/');
    } else {
      rejectUpgrade(socket, 404, { code: -1, msg: `No WebSocket endpoint at ${url.pathname}` });
      return;
    }
    const streams = [...new Set(names.filter((n) => n.length > 0))];
    const bad = streams.find((s) => !isWellFormedStreamName(s));
    if (bad !== undefined) {
      rejectUpgrade(socket, 400, { code: 2, msg: `Invalid request: invalid stream ${bad}` });
      return;
    }
    if (streams.length > this.options.maxStreamsPerConnection) {
      rejectUpgrade(socket, 400, {
        code: 2,
        msg: `Invalid request: too many streams (${streams.length} > ${this.options.maxStreamsPerConnection})`,
      });
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new StreamConnection(
        this.nextId++,
        ws,
        `${url.pathname}${url.search}`,
        combined,
        req.socket.remoteAddress ?? '',
        this.wallNow(),
      );
      this.connections.set(conn.id, conn);
      this.metrics.connectionOpened(this.connections.size);
      this.attach(conn);
      for (const s of streams) this.subscribe(conn, s);
      this.interestChanged();
      this.log.debug({ connection: conn.id, path: conn.path }, 'connection opened');
      const info = this.info(conn);
      for (const l of this.listeners.connected) l(info);
    });
  }

  /** Sends each event to the connections subscribed to its stream. */
  broadcast(events: readonly FeedEvent[]): void {
    const now = this.wallNow();
    for (const event of events) {
      const subscribers = this.byStream.get(event.stream);
      if (!subscribers || subscribers.size === 0) continue;
      let wrapped: string | null = null;
      let sent = 0;
      for (const conn of subscribers) {
        if (conn.stalled(now)) continue;
        if (conn.combined) {
          wrapped ??= `{"stream":"${event.stream}","data":${event.json}}`;
          if (this.send(conn, wrapped)) sent++;
        } else if (this.send(conn, event.json)) {
          sent++;
        }
      }
      this.metrics.messagesSent(event.kind, sent);
    }
  }

  list(filter: ConnectionFilter = {}): ConnectionInfo[] {
    return this.select(filter).map((c) => this.info(c));
  }

  get size(): number {
    return this.connections.size;
  }

  /** Open connections that are not stalled: the ones taking data. */
  activeCount(): number {
    const now = this.wallNow();
    let n = 0;
    for (const conn of this.connections.values()) {
      if (conn.ws.readyState === WebSocket.OPEN && !conn.stalled(now)) n++;
    }
    return n;
  }

  /**
   * Bytes waiting in the fullest send buffer of an open, unstalled connection: how far the
   * slowest reader is behind (0 while the kernel still takes everything).
   */
  maxBufferedBytes(): number {
    const now = this.wallNow();
    let max = 0;
    for (const conn of this.connections.values()) {
      if (conn.ws.readyState !== WebSocket.OPEN || conn.stalled(now)) continue;
      if (conn.ws.bufferedAmount > max) max = conn.ws.bufferedAmount;
    }
    return max;
  }

  /** Closes matching connections, with a close frame or by cutting the TCP connection. */
  drop(filter: ConnectionFilter, closeFrame: boolean, code = 1001, reason = 'Connection dropped'): number {
    const targets = this.select(filter);
    for (const conn of targets) {
      conn.closeReason = 'dropped';
      if (closeFrame) this.closeGracefully(conn, code, reason);
      else conn.ws.terminate();
    }
    return targets.length;
  }

  /** Keeps matching connections open but silent: no data, no pings, no pongs, no replies. */
  stall(filter: ConnectionFilter, durationMs = Number.POSITIVE_INFINITY): number {
    const targets = this.select(filter);
    const until = this.wallNow() + durationMs;
    for (const conn of targets) conn.stalledUntilMs = until;
    return targets.length;
  }

  unstall(filter: ConnectionFilter): number {
    const targets = this.select(filter).filter((c) => c.stalledUntilMs > 0);
    for (const conn of targets) this.endStall(conn);
    return targets.length;
  }

  /** Sends a frame built per connection (it knows whether the connection is combined). */
  sendFrame(filter: ConnectionFilter, frame: (c: ConnectionInfo) => string | Buffer): number {
    const targets = this.select(filter).filter((c) => c.ws.readyState === WebSocket.OPEN);
    for (const conn of targets) conn.ws.send(frame(this.info(conn)));
    this.metrics.messagesSent('other', targets.length);
    return targets.length;
  }

  /** Sends `serverShutdown` and closes the connections `closeAfterMs` later (never if null). */
  serverShutdown(filter: ConnectionFilter, closeAfterMs: number | null): number {
    const targets = this.select(filter).filter((c) => c.ws.readyState === WebSocket.OPEN);
    const data = JSON.stringify({ e: 'serverShutdown', E: this.options.marketNowMs() });
    for (const conn of targets) {
      conn.ws.send(conn.combined ? `{"stream":"!serverShutdown","data":${data}}` : data);
      this.metrics.messagesSent('other', 1);
      if (closeAfterMs !== null && conn.shutdownTimer === null) {
        conn.shutdownTimer = setTimeout(() => {
          conn.closeReason = 'server-shutdown';
          this.closeGracefully(conn, 1001, 'Server shutdown');
        }, closeAfterMs);
      }
    }
    return targets.length;
  }

  /**
   * Closes every connection with 1001 ("going away"), as data-ingest and trading-algo do on
   * shutdown, waits up to `timeoutMs` for the peers to answer the close, cuts the rest, and stops.
   */
  async close(timeoutMs = 1_000): Promise<void> {
    clearInterval(this.timer);
    const open = [...this.connections.values()];
    const allClosed = Promise.all(
      open.map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.ws.readyState === WebSocket.CLOSED) resolve();
            else conn.ws.once('close', () => resolve());
          }),
      ),
    );
    for (const conn of open) {
      conn.closeReason = 'server-closed';
      if (conn.shutdownTimer) clearTimeout(conn.shutdownTimer);
      if (conn.ws.readyState === WebSocket.OPEN) conn.ws.close(1001, 'server shutting down');
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    for (const conn of this.connections.values()) conn.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private select(filter: ConnectionFilter): StreamConnection[] {
    let conns = [...this.connections.values()];
    if (filter.ids) {
      const ids = new Set(filter.ids);
      conns = conns.filter((c) => ids.has(c.id));
    }
    if (filter.stream !== undefined) {
      const stream = filter.stream;
      conns = conns.filter((c) => c.streams.has(stream));
    }
    return conns;
  }

  private info(conn: StreamConnection): ConnectionInfo {
    return {
      id: conn.id,
      path: conn.path,
      combined: conn.combined,
      streams: [...conn.streams],
      remoteAddress: conn.remoteAddress,
      openedAtMs: conn.openedAtMs,
      stalled: conn.stalled(this.wallNow()),
      messagesReceived: conn.messagesReceived,
      recentMessageTimesMs: [...conn.recentMessages],
    };
  }

  private attach(conn: StreamConnection): void {
    const { ws } = conn;
    ws.on('message', (data, isBinary) => {
      if (!this.countInbound(conn)) return;
      conn.messagesReceived++;
      conn.recentMessages.push(this.wallNow());
      if (conn.recentMessages.length > 100) conn.recentMessages.shift();
      if (conn.stalled(this.wallNow())) return;
      const text = isBinary ? '' : rawDataToString(data);
      this.handleMessage(conn, isBinary ? '\u0000' : text);
    });
    ws.on('ping', (data) => {
      if (!this.countInbound(conn)) return;
      if (!conn.stalled(this.wallNow()) && ws.readyState === WebSocket.OPEN) ws.pong(data);
    });
    ws.on('pong', (data) => {
      if (!this.countInbound(conn)) return;
      const payload = data.toString('utf8');
      const index = conn.outstandingPings.findIndex((p) => p.payload === payload);
      // Only a pong echoing one of our pings counts; unsolicited pongs do not keep a peer alive.
      if (index >= 0) conn.outstandingPings.splice(0, index + 1);
    });
    ws.on('error', (err) => this.log.debug({ connection: conn.id, err }, 'connection error'));
    ws.on('close', () => {
      if (conn.shutdownTimer) clearTimeout(conn.shutdownTimer);
      this.connections.delete(conn.id);
      this.metrics.connectionClosed(conn.closeReason, this.connections.size);
      for (const s of conn.streams) this.unsubscribe(conn, s);
      this.interestChanged();
      this.log.debug({ connection: conn.id, reason: conn.closeReason }, 'connection closed');
      const info = this.info(conn);
      for (const l of this.listeners.disconnected) l(info, conn.closeReason);
    });
  }

  /** Records an incoming message; closes the connection past the per-second limit. */
  private countInbound(conn: StreamConnection): boolean {
    const now = this.wallNow();
    conn.inbound.push(now);
    while ((conn.inbound[0] ?? now) <= now - 1_000) conn.inbound.shift();
    if (conn.inbound.length > this.options.maxMessagesPerSecond) {
      if (conn.ws.readyState === WebSocket.OPEN) {
        conn.closeReason = 'rate-limit';
        this.log.info({ connection: conn.id }, 'connection exceeded the incoming message rate');
        this.closeGracefully(conn, 1008, 'Too many messages');
      }
      return false;
    }
    return true;
  }

  private handleMessage(conn: StreamConnection, text: string): void {
    const action = parseMethodRequest(text);
    switch (action.kind) {
      case 'error':
        this.reply(conn, action.method, 'error', errorReply(action.code, action.msg, action.id));
        return;
      case 'subscribe': {
        const added = action.streams.filter((s) => !conn.streams.has(s)).length;
        if (conn.streams.size + added > this.options.maxStreamsPerConnection) {
          this.reply(
            conn,
            'SUBSCRIBE',
            'error',
            errorReply(2, 'Invalid request: too many streams', action.id),
          );
          return;
        }
        for (const s of action.streams) this.subscribe(conn, s);
        this.interestChanged();
        this.reply(conn, 'SUBSCRIBE', 'ok', resultReply(null, action.id));
        return;
      }
      case 'unsubscribe':
        for (const s of action.streams) this.unsubscribe(conn, s);
        this.interestChanged();
        this.reply(conn, 'UNSUBSCRIBE', 'ok', resultReply(null, action.id));
        return;
      case 'list':
        this.reply(conn, 'LIST_SUBSCRIPTIONS', 'ok', resultReply([...conn.streams], action.id));
        return;
      case 'setCombined':
        conn.combined = action.value;
        this.reply(conn, 'SET_PROPERTY', 'ok', resultReply(null, action.id));
        return;
      case 'getCombined':
        this.reply(conn, 'GET_PROPERTY', 'ok', resultReply(conn.combined, action.id));
        return;
    }
  }

  private reply(
    conn: StreamConnection,
    method: MethodName | null,
    outcome: 'ok' | 'error',
    text: string,
  ): void {
    this.metrics.methodRequest(method, outcome);
    if (this.send(conn, text)) this.metrics.messagesSent('other', 1);
  }

  private subscribe(conn: StreamConnection, stream: string): void {
    conn.streams.add(stream);
    let set = this.byStream.get(stream);
    if (!set) {
      set = new Set();
      this.byStream.set(stream, set);
    }
    set.add(conn);
  }

  private unsubscribe(conn: StreamConnection, stream: string): void {
    conn.streams.delete(stream);
    const set = this.byStream.get(stream);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) this.byStream.delete(stream);
  }

  private interestChanged(): void {
    this.options.onInterestChanged(new Set(this.byStream.keys()));
  }

  /** Sends unless the connection is closing or too far behind; true when handed to the socket. */
  private send(conn: StreamConnection, text: string): boolean {
    const { ws } = conn;
    if (ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > this.options.maxBufferedBytes) {
      conn.closeReason = 'slow-consumer';
      this.log.warn({ connection: conn.id, buffered: ws.bufferedAmount }, 'dropping a slow consumer');
      ws.terminate();
      return false;
    }
    ws.send(text);
    return true;
  }

  private closeGracefully(conn: StreamConnection, code: number, reason: string): void {
    const { ws } = conn;
    if (ws.readyState === WebSocket.CLOSED) return;
    ws.close(code, reason);
    // A peer that never answers the close frame is cut off.
    setTimeout(() => ws.terminate(), 1_000).unref();
  }

  private endStall(conn: StreamConnection): void {
    conn.stalledUntilMs = 0;
    conn.outstandingPings.length = 0;
    conn.lastPingMs = this.wallNow();
  }

  private housekeeping(): void {
    const now = this.wallNow();
    const o = this.options;
    for (const conn of this.connections.values()) {
      if (conn.ws.readyState !== WebSocket.OPEN) continue;
      if (conn.stalledUntilMs > 0 && conn.stalledUntilMs <= now) this.endStall(conn);
      if (now - conn.openedAtMs >= o.maxConnectionMs) {
        conn.closeReason = 'lifetime';
        this.closeGracefully(conn, 1000, 'Connection lifetime exceeded');
        continue;
      }
      if (conn.stalled(now)) continue;
      const oldest = conn.outstandingPings[0];
      if (oldest && now - oldest.sentMs >= o.pongTimeoutMs) {
        conn.closeReason = 'pong-timeout';
        this.log.info({ connection: conn.id }, 'dropping a peer that did not answer ping');
        this.closeGracefully(conn, 1008, 'Pong timeout');
        continue;
      }
      if (now - conn.lastPingMs >= o.pingIntervalMs) {
        conn.lastPingMs = now;
        const payload = `${now}-${conn.pingCounter++}`;
        conn.outstandingPings.push({ payload, sentMs: now });
        conn.ws.ping(payload);
      }
    }
  }
}

function rawDataToString(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function rejectUpgrade(socket: Duplex, status: number, body: { code: number; msg: string }): void {
  const text = JSON.stringify(body);
  const reason = status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

export { rejectUpgrade };
