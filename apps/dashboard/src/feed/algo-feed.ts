import { type AlgoServerMessage, algoServerMessageSchema } from '@visualgo/contracts/algo';
import {
  type Clock,
  ReconnectingSocket,
  type SocketFactory,
  type SocketStatus,
} from './reconnecting-socket.js';

export interface AlgoFeedOptions {
  /** trading-algo's WebSocket endpoint, `ws://host:8090/ws`. */
  readonly wsUrl: string;
  readonly stream: string;
  readonly factory: SocketFactory;
  readonly clock?: Clock;
  readonly staleAfterMs: number;
  readonly deadAfterMs: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number; readonly random?: () => number };
  readonly onMessage: (message: AlgoServerMessage, receivedAtMs: number) => void;
  readonly onStatus?: (status: SocketStatus) => void;
}

/**
 * The page's link to trading-algo's `/ws`: one stream at a time. Every connection asks for the
 * current stream in its URL (`?streams=`), so a reconnect resubscribes by construction and the
 * server's `snapshot` replaces what the page held. Switching stream on an open connection sends
 * `subscribe` for the new stream, then `unsubscribe` for the old one (no reconnect, no blank
 * chart). Frames are checked against the contract's schemas; a frame that fails is dropped and
 * counted, never cast.
 */
export class AlgoFeed {
  private current: string;
  private readonly socket: ReconnectingSocket;
  private bad = 0;

  constructor(private readonly options: AlgoFeedOptions) {
    this.current = options.stream;
    this.socket = new ReconnectingSocket({
      url: () => `${options.wsUrl}?streams=${encodeURIComponent(this.current)}`,
      factory: options.factory,
      ...(options.clock ? { clock: options.clock } : {}),
      staleAfterMs: options.staleAfterMs,
      deadAfterMs: options.deadAfterMs,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      onMessage: (data, at) => this.receive(data, at),
      ...(options.onStatus ? { onStatus: options.onStatus } : {}),
    });
  }

  get stream(): string {
    return this.current;
  }

  get status(): SocketStatus {
    return this.socket.status;
  }

  /** Frames that were not valid JSON or not a message of the contract. */
  get badFrames(): number {
    return this.bad;
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
  }

  reconnectNow(): void {
    this.socket.reconnectNow();
  }

  setStream(stream: string): void {
    if (stream === this.current) return;
    const previous = this.current;
    this.current = stream;
    if (this.socket.send(JSON.stringify({ op: 'subscribe', streams: [stream] }))) {
      this.socket.send(JSON.stringify({ op: 'unsubscribe', streams: [previous] }));
    }
  }

  private receive(data: string, receivedAtMs: number): void {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      this.bad++;
      return;
    }
    const parsed = algoServerMessageSchema.safeParse(json);
    if (!parsed.success) {
      this.bad++;
      return;
    }
    this.options.onMessage(parsed.data, receivedAtMs);
  }
}
