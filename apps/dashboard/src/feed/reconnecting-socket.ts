import { Backoff } from '@visualgo/platform/backoff';

/**
 * The part of the browser's WebSocket this client uses. Handlers are typed with `never` parameters
 * so the DOM's WebSocket (whose handlers take DOM events) fits; the handlers this file installs
 * declare what they read: {@link MessageLike} and {@link CloseLike}.
 */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface MessageLike {
  readonly data: unknown;
}

export interface CloseLike {
  readonly code: number;
  readonly reason: string;
}

export type SocketFactory = (url: string) => SocketLike;

/** Time and timers, injectable so tests drive them. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const browserClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * `connecting`: first attempt under way. `live`: open and data arriving. `stale`: open but silent
 * for longer than `staleAfterMs`. `reconnecting`: closed, waiting for the next attempt.
 */
export type SocketState = 'connecting' | 'live' | 'stale' | 'reconnecting' | 'stopped';

export interface SocketStatus {
  readonly state: SocketState;
  /** Failed attempts since the last healthy connection. */
  readonly attempt: number;
  /** When the next attempt starts (`reconnecting` only). */
  readonly retryAtMs: number | null;
  readonly lastMessageAtMs: number | null;
  readonly lastCloseReason: string | null;
}

export interface ReconnectingSocketOptions {
  /** Evaluated at every attempt, so a reconnect asks for what is wanted now (resubscribe). */
  readonly url: () => string;
  readonly factory: SocketFactory;
  readonly clock?: Clock;
  /** No message for this long on an open socket: `stale`. */
  readonly staleAfterMs: number;
  /** No message for this long: the socket is presumed dead (half-open) and replaced. */
  readonly deadAfterMs: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number; readonly random?: () => number };
  readonly onMessage: (data: string, receivedAtMs: number) => void;
  readonly onOpen?: () => void;
  readonly onStatus?: (status: SocketStatus) => void;
}

const OPEN = 1;

/**
 * A WebSocket that stays connected: on close or error it retries after a capped exponential
 * backoff with jitter (platform's `Backoff`: 0.5 s doubling to 10 s, each delay drawn from
 * [d/2, d] so a restarted server is not hit by every page at once), resets the backoff once a
 * connection delivers data, reports `stale` when an open socket goes silent, and replaces a socket
 * silent for `deadAfterMs` (a half-open TCP connection never reports its close).
 */
export class ReconnectingSocket {
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private socket: SocketLike | null = null;
  private retryTimer: unknown = null;
  private watchdog: unknown = null;
  private state: SocketState = 'stopped';
  private attempt = 0;
  private retryAtMs: number | null = null;
  private lastMessageAtMs: number | null = null;
  private openedAtMs = 0;
  private lastCloseReason: string | null = null;

  constructor(private readonly options: ReconnectingSocketOptions) {
    this.clock = options.clock ?? browserClock;
    this.backoff = new Backoff({
      initialMs: options.backoff?.initialMs ?? 500,
      maxMs: options.backoff?.maxMs ?? 10_000,
      jitter: 0.5,
      ...(options.backoff?.random ? { random: options.backoff.random } : {}),
    });
  }

  get status(): SocketStatus {
    return {
      state: this.state,
      attempt: this.attempt,
      retryAtMs: this.retryAtMs,
      lastMessageAtMs: this.lastMessageAtMs,
      lastCloseReason: this.lastCloseReason,
    };
  }

  start(): void {
    if (this.state !== 'stopped') return;
    this.setState('connecting');
    this.connect();
  }

  stop(): void {
    this.setState('stopped');
    this.clearRetry();
    this.clearWatchdog();
    this.dropSocket(1000, 'client stopped');
  }

  /** Replaces the connection now (new URL, or the user asked), without waiting for the backoff. */
  reconnectNow(): void {
    if (this.state === 'stopped') return;
    this.clearRetry();
    this.dropSocket(1000, 'client reconnect');
    this.setState(this.state === 'connecting' ? 'connecting' : 'reconnecting');
    this.connect();
  }

  /** Sends when open; false otherwise (the caller resubscribes through `url()` on reconnect). */
  send(text: string): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false;
    this.socket.send(text);
    return true;
  }

  private connect(): void {
    this.retryAtMs = null;
    let socket: SocketLike;
    try {
      socket = this.options.factory(this.options.url());
    } catch (err) {
      // A malformed URL throws synchronously in browsers; treat it like a failed attempt.
      this.lastCloseReason = err instanceof Error ? err.message : String(err);
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.openedAtMs = this.clock.now();
      this.setState('live');
      this.armWatchdog();
      this.options.onOpen?.();
    };
    socket.onmessage = (event: MessageLike) => {
      if (this.socket !== socket) return;
      const now = this.clock.now();
      this.lastMessageAtMs = now;
      if (this.attempt > 0) {
        this.attempt = 0;
        this.backoff.reset();
      }
      if (this.state === 'stale') this.setState('live');
      if (typeof event.data === 'string') this.options.onMessage(event.data, now);
    };
    socket.onclose = (event: CloseLike) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.lastCloseReason = `close ${event.code}${event.reason ? ` ${event.reason}` : ''}`;
      this.clearWatchdog();
      this.scheduleRetry();
    };
    // An error is always followed by a close in browsers; the close does the work.
    socket.onerror = () => {};
  }

  private scheduleRetry(): void {
    if (this.state === 'stopped') return;
    const delay = this.backoff.next();
    this.attempt++;
    this.retryAtMs = this.clock.now() + delay;
    this.setState('reconnecting');
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'stopped') return;
      this.connect();
    }, delay);
  }

  private armWatchdog(): void {
    this.clearWatchdog();
    const check = () => {
      this.watchdog = null;
      if (!this.socket || this.state === 'stopped') return;
      const now = this.clock.now();
      const silentMs = now - (this.lastMessageAtMs ?? this.openedAtMs);
      const sinceOpenMs = now - this.openedAtMs;
      const silence = Math.min(silentMs, sinceOpenMs);
      if (silence >= this.options.deadAfterMs) {
        this.lastCloseReason = `no message for ${silence} ms`;
        this.dropSocket(4000, 'stale');
        this.scheduleRetry();
        return;
      }
      if (silence >= this.options.staleAfterMs && this.state === 'live') this.setState('stale');
      this.watchdog = this.clock.setTimeout(check, 1_000);
    };
    this.watchdog = this.clock.setTimeout(check, 1_000);
  }

  private dropSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch {
      // Closing a socket that never opened can throw in some browsers; it is gone either way.
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAtMs = null;
  }

  private clearWatchdog(): void {
    if (this.watchdog !== null) this.clock.clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  private setState(state: SocketState): void {
    const changed = this.state !== state;
    this.state = state;
    if (changed || state === 'reconnecting') this.options.onStatus?.(this.status);
  }
}
