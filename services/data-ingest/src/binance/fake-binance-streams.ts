/**
 * Test double of Binance's combined-stream endpoint: `/stream?streams=a/b`, live SUBSCRIBE /
 * UNSUBSCRIBE with Binance's replies, and hooks to misbehave (silence, terminate, shutdown).
 * Used by the client tests only.
 */
import type { AddressInfo } from 'node:net';
import { binanceMethodRequest } from '@visualgo/contracts';
import { type WebSocket, WebSocketServer } from 'ws';

export interface FakeConnection {
  readonly index: number;
  readonly ws: WebSocket;
  readonly path: string;
  /** The `streams` query parameter as the client sent it. */
  readonly query: string | null;
  readonly streams: Set<string>;
  /** Method requests received, with arrival time. */
  readonly requests: {
    readonly atMs: number;
    readonly method: string;
    readonly params: readonly string[];
    readonly id: unknown;
  }[];
  readonly pongs: string[];
  closed: boolean;
}

export interface FakeOptions {
  /** Streams whose SUBSCRIBE is answered with Binance's invalid-stream error. */
  readonly rejectStreams?: ReadonlySet<string>;
}

export class FakeBinanceStreams {
  readonly connections: FakeConnection[] = [];
  /** When set, WebSocket handshakes are answered with HTTP 503. */
  rejectNewConnections = false;
  private constructor(
    private readonly server: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(options: FakeOptions = {}): Promise<FakeBinanceStreams> {
    let fake: FakeBinanceStreams | undefined;
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: (_info, done) => done(fake?.rejectNewConnections !== true, 503),
    });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as AddressInfo;
    const created = new FakeBinanceStreams(server, `ws://127.0.0.1:${port}`);
    fake = created;
    server.on('connection', (ws, req) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const query = url.searchParams.get('streams');
      const connection: FakeConnection = {
        index: created.connections.length,
        ws,
        path: url.pathname,
        query,
        streams: new Set(query ? query.split('/') : []),
        requests: [],
        pongs: [],
        closed: false,
      };
      created.connections.push(connection);
      ws.on('close', () => {
        connection.closed = true;
      });
      ws.on('pong', (data) => connection.pongs.push(data.toString()));
      ws.on('message', (data) => {
        const parsed = binanceMethodRequest.safeParse(JSON.parse(data.toString()));
        if (!parsed.success) {
          ws.send(JSON.stringify({ error: { code: 2, msg: 'Invalid request' }, id: null }));
          return;
        }
        const params = (parsed.data.params ?? []).filter((p): p is string => typeof p === 'string');
        const request = { method: parsed.data.method, params, id: parsed.data.id };
        connection.requests.push({ atMs: Date.now(), ...request });
        const rejected = request.params.filter((p) => options.rejectStreams?.has(p));
        if (rejected.length > 0) {
          ws.send(
            JSON.stringify({ error: { code: 2, msg: 'Invalid request: invalid stream' }, id: request.id }),
          );
          return;
        }
        for (const p of request.params) {
          if (request.method === 'SUBSCRIBE') connection.streams.add(p);
          if (request.method === 'UNSUBSCRIBE') connection.streams.delete(p);
        }
        ws.send(JSON.stringify({ result: null, id: request.id }));
      });
    });
    return created;
  }

  open(): FakeConnection[] {
    return this.connections.filter((c) => !c.closed);
  }

  /** Sends `data` wrapped for `stream` to every open connection subscribed to it. */
  publish(stream: string, data: unknown, only?: (c: FakeConnection) => boolean): void {
    const text = JSON.stringify({ stream, data });
    for (const c of this.open()) {
      if (c.streams.has(stream) && (!only || only(c))) c.ws.send(text);
    }
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function tradeEvent(symbol: string, tradeId: number, timeMs = 1700000000000 + tradeId) {
  return {
    e: 'trade',
    E: timeMs,
    s: symbol.toUpperCase(),
    t: tradeId,
    p: '27000.10000000',
    q: '0.00100000',
    T: timeMs,
    m: tradeId % 2 === 0,
    M: true,
  };
}

export function klineEvent(
  symbol: string,
  interval: string,
  openTimeMs: number,
  eventTimeMs: number,
  closed = false,
) {
  const s = symbol.toUpperCase();
  return {
    e: 'kline',
    E: eventTimeMs,
    s,
    k: {
      t: openTimeMs,
      T: openTimeMs + 59_999,
      s,
      i: interval,
      f: 100,
      L: 200,
      o: '27000.00000000',
      c: '27010.50000000',
      h: '27020.00000000',
      l: '26990.00000000',
      v: '12.50000000',
      n: 101,
      x: closed,
      q: '337600.00000000',
      V: '6.00000000',
      Q: '162000.00000000',
      B: '0',
    },
  };
}

/** Polls `predicate` until true; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
