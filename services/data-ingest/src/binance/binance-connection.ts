/**
 * One combined-stream WebSocket to Binance: opens it, classifies its frames, paces its live
 * (UN)SUBSCRIBE requests under the per-connection message limit and matches their replies, and
 * watches for silence. It never reconnects by itself: `BinanceStreamClient` decides that.
 */
import type { Logger } from '@visualgo/platform';
import WebSocket, { type RawData } from 'ws';
import { type BinanceFrame, parseBinanceFrame } from './binance-frame.js';

export type DataFrame = Extract<BinanceFrame, { type: 'kline' | 'trade' | 'aggTrade' }>;
export type StreamMethod = 'SUBSCRIBE' | 'UNSUBSCRIBE';

export interface ConnectionCallbacks {
  onOpen(connection: BinanceConnection): void;
  onData(connection: BinanceConnection, frame: DataFrame, receivedTimeMs: number): void;
  onShutdown(connection: BinanceConnection): void;
  onStale(connection: BinanceConnection): void;
  onMalformed(connection: BinanceConnection, reason: string): void;
  onMethodError(connection: BinanceConnection, detail: MethodFailure): void;
  /** Called exactly once, when the socket is gone (including when it never opened). */
  onClose(connection: BinanceConnection, reason: string): void;
}

export interface MethodFailure {
  readonly method: StreamMethod;
  readonly params: readonly string[];
  readonly code: number | null;
  readonly msg: string;
}

export interface ConnectionOptions {
  readonly id: string;
  readonly wsBaseUrl: string;
  readonly streams: ReadonlySet<string>;
  readonly minSendIntervalMs: number;
  readonly staleAfterMs: number;
  readonly handshakeTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly methodTimeoutMs: number;
  readonly logger: Logger;
  readonly now: () => number;
  readonly callbacks: ConnectionCallbacks;
}

/** Largest frame accepted; Binance frames are a few hundred bytes, LIST_SUBSCRIPTIONS tens of KiB. */
const MAX_PAYLOAD_BYTES = 4 << 20;

export function combinedStreamUrl(wsBaseUrl: string, streams: Iterable<string>): string {
  return `${wsBaseUrl.replace(/\/+$/, '')}/stream?streams=${[...streams].join('/')}`;
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

export class BinanceConnection {
  readonly id: string;
  readonly openedStreams: readonly string[];
  /** Streams the server has been asked for: the URL's, then every queued request applied. */
  readonly subscribed: Set<string>;
  state: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
  /** Set when this side closes on purpose (switch-over, stop, streams removed). */
  planned = false;
  /** A serverShutdown arrived while this was not yet the active connection. */
  shutdownPending = false;
  openedAtMs: number | undefined;
  lastDataAtMs = 0;
  dataFrames = 0;

  private readonly ws: WebSocket;
  private readonly options: ConnectionOptions;
  private readonly queue: { method: StreamMethod; params: string[] }[] = [];
  private readonly pending = new Map<number, { method: StreamMethod; params: string[]; sentAtMs: number }>();
  private nextMethodId = 1;
  private lastSentAtMs = Number.NEGATIVE_INFINITY;
  private sendTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private closeReason: string | undefined;
  private lastError: string | undefined;
  private resolveClosed!: () => void;
  readonly closed: Promise<void> = new Promise((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(options: ConnectionOptions) {
    this.options = options;
    this.id = options.id;
    this.openedStreams = [...options.streams];
    this.subscribed = new Set(options.streams);
    this.ws = new WebSocket(combinedStreamUrl(options.wsBaseUrl, this.openedStreams), {
      handshakeTimeout: options.handshakeTimeoutMs,
      perMessageDeflate: false,
      maxPayload: MAX_PAYLOAD_BYTES,
      // ws answers every ping with a pong carrying the same payload, as Binance requires.
      autoPong: true,
    });
    this.ws.on('open', () => this.handleOpen());
    this.ws.on('message', (data, isBinary) => this.handleMessage(data, isBinary));
    this.ws.on('error', (error) => {
      this.lastError = error.message;
    });
    this.ws.on('close', (code, reason) => this.handleClose(code, reason.toString('utf8')));
  }

  /** Asks the server for the difference between `desired` and what it has been asked for. */
  reconcile(desired: ReadonlySet<string>): void {
    const add = [...desired].filter((s) => !this.subscribed.has(s));
    const remove = [...this.subscribed].filter((s) => !desired.has(s));
    if (remove.length > 0) this.enqueue('UNSUBSCRIBE', remove);
    if (add.length > 0) this.enqueue('SUBSCRIBE', add);
  }

  /** Closes with a close frame, still delivering what arrives meanwhile; terminates if it hangs. */
  close(reason: string): void {
    this.closeReason ??= reason;
    if (this.state === 'closed' || this.state === 'closing') return;
    this.stopTimers();
    if (this.state === 'connecting') {
      this.state = 'closing';
      this.ws.terminate();
      return;
    }
    this.state = 'closing';
    this.ws.close(1000);
    this.closeTimer = setTimeout(() => this.ws.terminate(), this.options.closeTimeoutMs);
  }

  /** Drops the socket without a close handshake: for a peer that no longer answers. */
  terminate(reason: string): void {
    this.closeReason ??= reason;
    if (this.state === 'closed') return;
    this.stopTimers();
    this.state = 'closing';
    this.ws.terminate();
  }

  private enqueue(method: StreamMethod, params: string[]): void {
    for (const s of params) {
      if (method === 'SUBSCRIBE') this.subscribed.add(s);
      else this.subscribed.delete(s);
    }
    const last = this.queue.at(-1);
    // Merging into the last queued request of the same method keeps the order of changes.
    if (last && last.method === method) last.params.push(...params.filter((p) => !last.params.includes(p)));
    else this.queue.push({ method, params: [...params] });
    this.flush();
  }

  private flush(): void {
    if (this.state !== 'open' || this.sendTimer || this.queue.length === 0) return;
    const waitMs = this.lastSentAtMs + this.options.minSendIntervalMs - this.options.now();
    if (waitMs > 0) {
      this.sendTimer = setTimeout(() => {
        this.sendTimer = undefined;
        this.flush();
      }, waitMs);
      return;
    }
    const request = this.queue.shift();
    if (!request) return;
    const id = this.nextMethodId++;
    this.lastSentAtMs = this.options.now();
    this.pending.set(id, { ...request, sentAtMs: this.lastSentAtMs });
    this.ws.send(JSON.stringify({ method: request.method, params: request.params, id }));
    this.options.logger.debug(
      { connectionId: this.id, method: request.method, count: request.params.length, id },
      'stream request sent',
    );
    this.flush();
  }

  private handleOpen(): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    this.openedAtMs = this.options.now();
    this.lastDataAtMs = this.openedAtMs;
    const tickMs = Math.min(5000, Math.max(20, Math.floor(this.options.staleAfterMs / 4)));
    this.watchdog = setInterval(() => this.checkLiveness(), tickMs);
    this.options.callbacks.onOpen(this);
    this.flush();
  }

  private checkLiveness(): void {
    const now = this.options.now();
    for (const [id, request] of this.pending) {
      if (now - request.sentAtMs > this.options.methodTimeoutMs) {
        this.pending.delete(id);
        this.options.callbacks.onMethodError(this, { ...request, code: null, msg: 'no reply' });
      }
    }
    if (this.state === 'open' && now - this.lastDataAtMs > this.options.staleAfterMs) {
      this.options.callbacks.onStale(this);
    }
  }

  private handleMessage(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    const receivedTimeMs = this.options.now();
    const callbacks = this.options.callbacks;
    if (isBinary) {
      callbacks.onMalformed(this, 'binary frame');
      return;
    }
    const frame = parseBinanceFrame(rawText(data));
    switch (frame.type) {
      case 'kline':
      case 'trade':
      case 'aggTrade':
        this.lastDataAtMs = receivedTimeMs;
        this.dataFrames++;
        callbacks.onData(this, frame, receivedTimeMs);
        return;
      case 'shutdown':
        callbacks.onShutdown(this);
        return;
      case 'method-result':
      case 'method-error': {
        const id = typeof frame.id === 'number' ? frame.id : undefined;
        const request = id === undefined ? undefined : this.pending.get(id);
        if (id === undefined || !request) {
          callbacks.onMalformed(this, `reply to an unknown request id ${JSON.stringify(frame.id)}`);
          return;
        }
        this.pending.delete(id);
        if (frame.type === 'method-error') {
          callbacks.onMethodError(this, {
            method: request.method,
            params: request.params,
            code: frame.code,
            msg: frame.msg,
          });
        }
        return;
      }
      case 'malformed':
        callbacks.onMalformed(this, frame.reason);
        return;
      case 'unknown':
        callbacks.onMalformed(this, `unknown: ${frame.reason}`);
        return;
    }
  }

  private handleClose(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopTimers();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    const detail = this.lastError ?? `close code ${code}${reason ? ` ${reason}` : ''}`;
    this.options.callbacks.onClose(this, this.closeReason ?? detail);
    this.resolveClosed();
  }

  private stopTimers(): void {
    if (this.sendTimer) clearTimeout(this.sendTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.sendTimer = undefined;
    this.watchdog = undefined;
  }
}
