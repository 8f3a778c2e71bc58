import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { LogThrottle } from './logger.js';
import type { WsFanoutMetrics, WsInboundRateLimit } from './ws-fanout.js';
import type { WsFrame } from './ws-frame.js';

/** Settings and shared state every connection of one fan-out holds. */
export interface SharedConfig {
  readonly maxBufferedBytes: number;
  readonly maxQueuedMessages: number;
  readonly maxTotalBufferedBytes: number;
  readonly slowConsumerCloseGraceMs: number;
  readonly rate: WsInboundRateLimit | null;
  readonly now: () => number;
  readonly metrics: WsFanoutMetrics;
  readonly logger: Logger;
  readonly throttle: LogThrottle;
  /**
   * Memory the connections' backlogs hold: each frame held by any of them counted once (they
   * share it), plus `SLOT_BYTES` per message a connection holds.
   */
  totalBufferedBytes: number;
  /** Called when a connection's queue goes from empty to not empty: flush it at the end of the tick. */
  readonly schedule: (client: WsConnection<unknown>) => void;
}

const CLOSE_POLICY_VIOLATION = 1008;

/**
 * What one held message costs a connection beyond the shared frame: its slot in our queue and,
 * once handed to a socket that is behind, the stream's buffered-write entry. Measured: about 44
 * bytes per held message (1000 clients each 8192 messages behind added 347 MB of RSS).
 */
export const SLOT_BYTES = 48;

/**
 * One client connection. Frames it is owed are queued (the same Buffer every client gets) and
 * written at the end of the tick, all at once, straight to its socket: one write, one syscall, per
 * client per tick whatever the number of messages. Send through {@link WsFanout.send} /
 * {@link WsFanout.broadcast} so it is counted.
 */
export class WsConnection<S> {
  /** Frames not yet handed to the socket. */
  private queue: WsFrame[] = [];
  private queuedBytes = 0;
  /** Batches handed to the socket, not yet to the kernel (their callbacks come in order). */
  private inFlight: WsFrame[][] = [];
  private inFlightMessages = 0;
  private inFlightBytes = 0;
  private alive = true;
  private closing = false;
  private released = false;
  private tokens: number;
  private refillAtMs: number;

  constructor(
    readonly id: number,
    /** Application state for this connection (subscriptions and the like). */
    readonly state: S,
    /** The client's address (`requestAddress`: behind a trusted proxy, from X-Forwarded-For). */
    readonly remoteAddress: string,
    private readonly socket: WebSocket,
    /** The TCP socket under `socket`: data frames are written here directly, framed once for all. */
    private readonly tcp: Duplex,
    private readonly config: SharedConfig,
  ) {
    this.tokens = config.rate?.burst ?? 0;
    this.refillAtMs = config.now();
  }

  /** False once closing for any reason; nothing more is sent then. */
  get isOpen(): boolean {
    return !this.closing && this.socket.readyState === WebSocket.OPEN;
  }

  /** Bytes owed to this client and not yet accepted by the kernel (queued here or in the socket). */
  get bufferedBytes(): number {
    return this.queuedBytes + this.inFlightBytes;
  }

  /**
   * Queues one framed message, or cuts the client off as a slow consumer. Returns whether it was
   * queued. Prefer `WsFanout.send`, which also counts it.
   *
   * The policy: a client is behind when the kernel has not yet taken everything handed to its
   * socket at earlier ticks (`backlog`). A client that is behind is cut off when its backlog plus
   * what it is owed this tick would pass `maxBufferedBytes`, or when the memory every client's
   * backlog holds would pass `maxTotalBufferedBytes`; any client is cut off at
   * `maxQueuedMessages` messages waiting. A client that is not behind takes the tick's messages
   * whatever their size: they are the same Buffers every client is handed, held once however many
   * clients, so a burst does not drop clients that keep up.
   */
  enqueue(frame: WsFrame): boolean {
    if (!this.isOpen) return false;
    const size = frame.bytes.length;
    const backlog = this.inFlightBytes;
    const owed = backlog + this.queuedBytes;
    if (
      this.queue.length + this.inFlightMessages >= this.config.maxQueuedMessages ||
      (backlog > 0 &&
        (owed + size > this.config.maxBufferedBytes ||
          this.config.totalBufferedBytes + SLOT_BYTES + (frame.holders === 0 ? size : 0) >
            this.config.maxTotalBufferedBytes))
    ) {
      this.dropSlow(owed);
      return false;
    }
    if (this.queue.length === 0) this.config.schedule(this);
    this.queue.push(frame);
    this.queuedBytes += size;
    this.hold(frame);
    return true;
  }

  /** @internal Writes every queued frame to the socket in one go (the fan-out calls it once a tick). */
  flush(): void {
    const frames = this.queue;
    if (frames.length === 0) return;
    const bytes = this.queuedBytes;
    const messages = frames.length;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.socket.readyState !== WebSocket.OPEN || !this.tcp.writable) {
      this.letGo(frames);
      return;
    }
    this.inFlight.push(frames);
    this.inFlightBytes += bytes;
    this.inFlightMessages += messages;
    const written = (): void => {
      if (this.released) return;
      this.inFlightBytes -= bytes;
      this.inFlightMessages -= messages;
      const batch = this.inFlight.shift();
      if (batch) this.letGo(batch);
    };
    if (messages === 1) {
      this.tcp.write((frames[0] as WsFrame).bytes, written);
      return;
    }
    // Corked writes of shared Buffers leave as one writev: no copy, one syscall.
    this.tcp.cork();
    for (let i = 0; i < messages - 1; i++) this.tcp.write((frames[i] as WsFrame).bytes);
    this.tcp.write((frames[messages - 1] as WsFrame).bytes, written);
    this.tcp.uncork();
  }

  private hold(frame: WsFrame): void {
    if (frame.holders++ === 0) this.config.totalBufferedBytes += frame.bytes.length;
    this.config.totalBufferedBytes += SLOT_BYTES;
  }

  private letGo(frames: readonly WsFrame[]): void {
    for (const frame of frames) {
      if (--frame.holders === 0) this.config.totalBufferedBytes -= frame.bytes.length;
      this.config.totalBufferedBytes -= SLOT_BYTES;
    }
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    // What was queued before the close goes first, as it would have over ws.
    this.flush();
    this.closing = true;
    this.socket.close(code, reason);
  }

  terminate(): void {
    this.closing = true;
    this.socket.terminate();
  }

  /** One heartbeat round: false (and terminated) when the previous ping went unanswered. */
  heartbeat(): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return true;
    if (!this.alive) {
      this.config.metrics.heartbeatTimeout?.();
      this.config.logger.debug({ client: this.id }, 'websocket peer missed heartbeat');
      this.terminate();
      return false;
    }
    this.alive = false;
    // Behind whatever data frames are queued, so the ping does not overtake them.
    this.flush();
    this.socket.ping();
    return true;
  }

  /** @internal Called by the fan-out on each pong. */
  markAlive(): void {
    this.alive = true;
  }

  /** @internal False when the inbound rate limit is exceeded; the connection is then closed. */
  admitInbound(): boolean {
    if (this.closing) return false;
    const rate = this.config.rate;
    if (!rate) return true;
    const t = this.config.now();
    this.tokens = Math.min(rate.burst, this.tokens + ((t - this.refillAtMs) * rate.messagesPerSecond) / 1000);
    this.refillAtMs = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.config.metrics.rateLimited?.();
    this.config.logger.debug({ client: this.id }, 'websocket client over inbound rate limit');
    this.close(CLOSE_POLICY_VIOLATION, 'too many messages');
    return false;
  }

  /** @internal Lets go of everything still queued or in flight (the connection closed). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.letGo(this.queue);
    for (const batch of this.inFlight) this.letGo(batch);
    this.queue = [];
    this.inFlight = [];
    this.queuedBytes = 0;
    this.inFlightBytes = 0;
    this.inFlightMessages = 0;
  }

  private dropSlow(bufferedBytes: number): void {
    this.config.metrics.slowConsumerDropped?.();
    const suppressed = this.config.throttle.take('slow');
    if (suppressed !== null) {
      this.config.logger.warn(
        {
          client: this.id,
          remoteAddress: this.remoteAddress,
          bufferedBytes,
          pending: this.queue.length + this.inFlightMessages,
          totalBufferedBytes: this.config.totalBufferedBytes,
          suppressed,
        },
        'websocket slow consumer dropped',
      );
    }
    this.close(CLOSE_POLICY_VIOLATION, 'slow consumer');
    // The close frame queues behind the unread data; a peer that never reads never sees it.
    setTimeout(() => this.socket.terminate(), this.config.slowConsumerCloseGraceMs).unref();
  }
}
