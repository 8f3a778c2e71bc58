import type { IndicatorMessage, SnapshotMessage, WireIndicatorPoint } from '@visualgo/contracts/algo';
import type { Clock, SocketLike } from '../feed/reconnecting-socket.js';

/** A clock whose time moves only when the test says; timers fire in time order. */
export class ManualClock implements Clock {
  private time = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, fn, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Moves time forward, firing due timers (and those they schedule) in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }
}

/** A WebSocket the test drives: open it, push frames, close it; records what the client sent. */
export class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: never) => void) | null = null;
  onclose: ((event: never) => void) | null = null;
  onerror: ((event: never) => void) | null = null;
  readonly sent: string[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = {
      ...(code !== undefined ? { code } : {}),
      ...(reason !== undefined ? { reason } : {}),
    };
    this.readyState = 3;
  }

  open(): void {
    this.readyState = 1;
    (this.onopen as ((e: unknown) => void) | null)?.({});
  }

  receive(message: unknown): void {
    const data = typeof message === 'string' ? message : JSON.stringify(message);
    (this.onmessage as ((e: { data: unknown }) => void) | null)?.({ data });
  }

  serverClose(code = 1006, reason = ''): void {
    this.readyState = 3;
    (this.onclose as ((e: { code: number; reason: string }) => void) | null)?.({ code, reason });
  }
}

/** Every socket a factory made, in order. */
export class SocketRecorder {
  readonly sockets: FakeSocket[] = [];
  readonly factory = (url: string): FakeSocket => {
    const s = new FakeSocket(url);
    this.sockets.push(s);
    return s;
  };

  /** The newest socket whose URL contains `part`. */
  last(part: string): FakeSocket {
    const s = this.sockets.filter((x) => x.url.includes(part)).at(-1);
    if (!s) throw new Error(`no socket to ${part}; have ${this.sockets.map((x) => x.url).join(', ')}`);
    return s;
  }

  count(part: string): number {
    return this.sockets.filter((x) => x.url.includes(part)).length;
  }
}

const MINUTE = 60_000;
export const T0 = Date.UTC(2025, 0, 15, 12, 0);

/** A final point of the n-th minute after {@link T0}, with plausible indicator values. */
export function point(n: number, overrides: Partial<WireIndicatorPoint> = {}): WireIndicatorPoint {
  const close = 100 + n;
  return {
    openTimeMs: T0 + n * MINUTE,
    closeTimeMs: T0 + (n + 1) * MINUTE - 1,
    final: true,
    open: close - 0.5,
    high: close + 1,
    low: close - 1,
    close,
    volume: 10,
    ema: close - 0.2,
    vwap: 100,
    vwapBands: { '1': [99, 101], '2': [98, 102] },
    atr: 1.5,
    stretch: 0.1,
    signal: 'none',
    vwapFromMs: T0,
    vwapPartial: false,
    converged: true,
    ...overrides,
  };
}

export const STREAM = 'btcusdt@kline_1m';

export function snapshot(points: WireIndicatorPoint[], stream = STREAM): SnapshotMessage {
  return {
    type: 'snapshot',
    stream,
    exchange: 'binance-sim',
    symbol: stream.split('@')[0]?.toUpperCase() ?? 'BTCUSDT',
    interval: '1m',
    points,
  };
}

export function indicator(p: WireIndicatorPoint, stream = STREAM): IndicatorMessage {
  return {
    type: 'indicator',
    stream,
    exchange: 'binance-sim',
    symbol: stream.split('@')[0]?.toUpperCase() ?? 'BTCUSDT',
    interval: '1m',
    ...p,
  };
}
