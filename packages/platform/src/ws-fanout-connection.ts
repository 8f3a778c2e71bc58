import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { LogThrottle } from './logger.js';
import type { WsFanoutMetrics, WsInboundRateLimit } from './ws-fanout.js';

/** Settings every connection of one fan-out shares. */
export interface SharedConfig {
  readonly maxBufferedBytes: number;
  readonly maxQueuedMessages: number;
  readonly slowConsumerCloseGraceMs: number;
  readonly rate: WsInboundRateLimit | null;
  readonly now: () => number;
  readonly metrics: WsFanoutMetrics;
  readonly logger: Logger;
  readonly throttle: LogThrottle;
}

const CLOSE_POLICY_VIOLATION = 1008;

/** One client connection. Send through {@link WsFanout.send} / {@link WsFanout.broadcast} so it is counted. */
export class WsConnection<S> {
  private pending = 0;
  private alive = true;
  private closing = false;
  private tokens: number;
  private refillAtMs: number;
  private readonly onWritten = (): void => {
    this.pending--;
  };

  constructor(
    readonly id: number,
    /** Application state for this connection (subscriptions and the like). */
    readonly state: S,
    /** The client's address (`requestAddress`: behind a trusted proxy, from X-Forwarded-For). */
    readonly remoteAddress: string,
    private readonly socket: WebSocket,
    private readonly config: SharedConfig,
  ) {
    this.tokens = config.rate?.burst ?? 0;
    this.refillAtMs = config.now();
  }

  /** False once closing for any reason; nothing more is sent then. */
  get isOpen(): boolean {
    return !this.closing && this.socket.readyState === WebSocket.OPEN;
  }

  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * Queues one text frame, or cuts the client off as a slow consumer when its buffer is full.
   * Returns whether it was queued. Prefer `WsFanout.send`, which also counts it.
   */
  enqueue(data: Buffer): boolean {
    if (!this.isOpen) return false;
    const buffered = this.socket.bufferedAmount;
    if (
      this.pending >= this.config.maxQueuedMessages ||
      (buffered > 0 && buffered + data.length > this.config.maxBufferedBytes)
    ) {
      this.dropSlow(buffered);
      return false;
    }
    this.pending++;
    this.socket.send(data, { binary: false }, this.onWritten);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
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

  private dropSlow(bufferedBytes: number): void {
    this.config.metrics.slowConsumerDropped?.();
    const suppressed = this.config.throttle.take('slow');
    if (suppressed !== null) {
      this.config.logger.warn(
        {
          client: this.id,
          remoteAddress: this.remoteAddress,
          bufferedBytes,
          pending: this.pending,
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
