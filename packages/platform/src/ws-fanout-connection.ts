import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { LogThrottle } from './logger.js';
import type { WsFanoutMetrics, WsInboundRateLimit } from './ws-fanout.js';
import { WsFrame } from './ws-frame.js';

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
   * share it) with its objects, plus `SLOT_BYTES` per message a connection holds.
   */
  totalBufferedBytes: number;
  /** What connections that are not behind queued since the last flush (part of the total). */
  unflushedBytes: number;
  /** Called when a connection's queue goes from empty to not empty: flush it at the end of the tick. */
  readonly schedule: (client: WsConnection<unknown>) => void;
  /** Flushes every scheduled connection now, before the end of the tick. */
  readonly flushNow: () => void;
}

const CLOSE_POLICY_VIOLATION = 1008;
/** How long a close held back behind queued data may wait for it to drain; as ws waits for a close handshake. */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * What one held message costs beyond the shared frame, counted for as long as a connection holds
 * it. Queued here it is a slot in an array (8-12 bytes); in the batch inside the socket it is
 * also the stream's buffered-write entry, that entry's slots in the stream's arrays and libuv's
 * buffer descriptor (measured about 90 bytes). Every held message counts the larger, so the
 * count covers what is held whichever side of the socket it is on.
 */
export const SLOT_BYTES = 96;

/** What one shared frame costs beyond its bytes: the `WsFrame` and its `Buffer` objects. */
export const FRAME_OVERHEAD_BYTES = 144;

/** Memory one held frame adds the first time a connection holds it. */
function frameCost(frame: WsFrame): number {
  return frame.bytes.length + FRAME_OVERHEAD_BYTES;
}

/**
 * The share of `maxTotalBufferedBytes` one tick's messages to clients that keep up may hold before
 * they are handed to the sockets early (when the total is at the bound): a sixteenth.
 */
const EARLY_FLUSH_SHARE = 16;

/** One ping for every connection's heartbeat, queued behind its data like any frame. */
const PING = WsFrame.ping();

/**
 * One client connection. Frames it is owed are queued here (the same Buffer every client gets)
 * and handed to its socket at the end of the tick, all at once: one write, one syscall, per
 * client per tick whatever the number of messages. At most one batch is ever inside the socket:
 * while the kernel has not taken it, what the client is owed waits in this queue, counted, and
 * goes as the next batch when that write completes. Send through {@link WsFanout.send} /
 * {@link WsFanout.broadcast} so it is counted.
 */
export class WsConnection<S> {
  /** Frames not yet handed to the socket. */
  private queue: WsFrame[] = [];
  private queuedBytes = 0;
  /** The batch inside the socket whose write has not completed, or null (at most one). */
  private writing: WsFrame[] | null = null;
  private writingBytes = 0;
  /** Writes the kernel took at once and that were let go then: their callbacks have nothing to do. */
  private completedEarly = 0;
  /** A close asked for while a batch was still inside the socket: sent behind the queued data. */
  private pendingClose: { readonly code: number; readonly reason: string } | null = null;
  private closeTimer: NodeJS.Timeout | undefined;
  private alive = true;
  private closing = false;
  private released = false;
  private tokens: number;
  private refillAtMs: number;
  /** The write callback of every batch: created once, so a write allocates no closure. */
  private readonly written = (err?: Error | null): void => {
    if (this.completedEarly > 0) {
      this.completedEarly--;
      return;
    }
    if (this.released || this.writing === null) return;
    this.completeWrite();
    // A failed write ends in 'close', which lets go of the rest.
    if (!err) this.flush();
  };

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

  /** Bytes owed to this client and not yet accepted by the kernel (queued here or inside its socket). */
  get bufferedBytes(): number {
    return this.queuedBytes + this.writingBytes;
  }

  /**
   * Queues one framed message, or cuts the client off as a slow consumer. Returns whether it was
   * queued. Prefer `WsFanout.send`, which also counts it.
   *
   * The policy: a client is behind when the kernel has not yet taken the batch handed to its
   * socket at an earlier tick; what it is owed meanwhile waits in its queue. A client that is
   * behind is cut off when what it is owed (that batch and its queue) plus this message would
   * pass `maxBufferedBytes`, or when the memory every client's backlog holds would pass
   * `maxTotalBufferedBytes`; any client is cut off at `maxQueuedMessages` messages waiting. A
   * client that is not behind takes the tick's messages whatever their size: they are the same
   * Buffers every client is handed, held once however many clients, so a burst does not drop
   * clients that keep up. When such a burst takes the total to the bound, every queued batch is
   * handed to its socket at once rather than at the end of the tick: what the kernels take is let
   * go, and a client whose kernel does not take its batch is behind from then on.
   */
  enqueue(frame: WsFrame): boolean {
    if (!this.isOpen) return false;
    const config = this.config;
    if (
      this.writing === null &&
      config.totalBufferedBytes + SLOT_BYTES + frameCost(frame) > config.maxTotalBufferedBytes &&
      config.unflushedBytes >= config.maxTotalBufferedBytes / EARLY_FLUSH_SHARE
    ) {
      // This tick's messages have taken the total to the bound: they go to the sockets now, not at
      // the end of the tick. What the kernels take is let go at once; a client whose kernel did not
      // take its batch is behind, and checked below.
      config.flushNow();
    }
    const size = frame.bytes.length;
    const owed = this.writingBytes + this.queuedBytes;
    if (
      this.queue.length + (this.writing?.length ?? 0) >= config.maxQueuedMessages ||
      (this.writing !== null &&
        (owed + size > config.maxBufferedBytes ||
          config.totalBufferedBytes + SLOT_BYTES + (frame.holders === 0 ? frameCost(frame) : 0) >
            config.maxTotalBufferedBytes))
    ) {
      this.dropSlow(owed);
      return false;
    }
    this.push(frame);
    return true;
  }

  /**
   * @internal Hands every queued frame to the socket in one go (the fan-out calls it once a tick),
   * unless the previous batch is still inside it: then its write callback does, when it completes.
   * A close held back behind the queue goes right after it.
   */
  flush(): void {
    if (this.writing !== null) return;
    const frames = this.queue;
    if (frames.length > 0) {
      const bytes = this.queuedBytes;
      this.queue = [];
      this.queuedBytes = 0;
      if (this.socket.readyState !== WebSocket.OPEN || !this.tcp.writable) this.letGo(frames);
      else this.write(frames, bytes);
    }
    const close = this.pendingClose;
    if (close !== null) {
      this.pendingClose = null;
      clearTimeout(this.closeTimer);
      this.socket.close(close.code, close.reason);
    }
  }

  private write(frames: WsFrame[], bytes: number): void {
    this.writing = frames;
    this.writingBytes = bytes;
    const messages = frames.length;
    if (messages === 1) this.tcp.write((frames[0] as WsFrame).bytes, this.written);
    else {
      // Corked writes of shared Buffers leave as one writev: no copy, one syscall.
      this.tcp.cork();
      for (let i = 0; i < messages - 1; i++) this.tcp.write((frames[i] as WsFrame).bytes);
      this.tcp.write((frames[messages - 1] as WsFrame).bytes, this.written);
      this.tcp.uncork();
    }
    // The kernel took it all at once (a client that keeps up): let go now, not on the callback a
    // turn later, so a batch handed early in a busy tick frees its memory at once.
    if (this.tcp.writableLength === 0) {
      this.completedEarly++;
      this.completeWrite();
    }
  }

  private completeWrite(): void {
    const batch = this.writing;
    this.writing = null;
    this.writingBytes = 0;
    if (batch !== null) this.letGo(batch);
  }

  /** Queues a frame past the bounds (a control frame); `enqueue` checks them first. */
  private push(frame: WsFrame): void {
    const config = this.config;
    if (this.queue.length === 0) config.schedule(this);
    this.queue.push(frame);
    this.queuedBytes += frame.bytes.length;
    const cost = SLOT_BYTES + (frame.holders++ === 0 ? frameCost(frame) : 0);
    config.totalBufferedBytes += cost;
    if (this.writing === null) config.unflushedBytes += cost;
  }

  private letGo(frames: readonly WsFrame[]): void {
    for (const frame of frames) {
      if (--frame.holders === 0) this.config.totalBufferedBytes -= frameCost(frame);
      this.config.totalBufferedBytes -= SLOT_BYTES;
    }
  }

  /**
   * Sends a close frame behind whatever is queued: at once if the socket has taken every earlier
   * batch, else once the queue has been handed to it (terminated if that takes 30 s).
   */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.pendingClose = { code, reason };
    this.flush();
    if (this.pendingClose !== null) {
      this.closeTimer = setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS);
      this.closeTimer.unref();
    }
  }

  terminate(): void {
    this.closing = true;
    this.socket.terminate();
  }

  /** One heartbeat round: false (and terminated) when the previous ping went unanswered. */
  heartbeat(): boolean {
    // A closing connection is bounded by its close's own timeout.
    if (this.closing || this.socket.readyState !== WebSocket.OPEN) return true;
    if (!this.alive) {
      this.config.metrics.heartbeatTimeout?.();
      this.config.logger.debug({ client: this.id }, 'websocket peer missed heartbeat');
      this.terminate();
      return false;
    }
    this.alive = false;
    // Behind whatever data frames are queued, so the ping does not overtake them.
    this.push(PING);
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

  /** @internal Lets go of everything still queued or inside the socket (the connection closed). */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.closeTimer);
    this.letGo(this.queue);
    if (this.writing !== null) this.letGo(this.writing);
    this.queue = [];
    this.writing = null;
    this.queuedBytes = 0;
    this.writingBytes = 0;
    this.pendingClose = null;
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
          pending: this.queue.length + (this.writing?.length ?? 0),
          totalBufferedBytes: this.config.totalBufferedBytes,
          suppressed,
        },
        'websocket slow consumer dropped',
      );
    }
    this.close(CLOSE_POLICY_VIOLATION, 'slow consumer');
    // The close frame waits behind the unread data; a peer that never reads never sees it.
    setTimeout(() => this.socket.terminate(), this.config.slowConsumerCloseGraceMs).unref();
  }
}
