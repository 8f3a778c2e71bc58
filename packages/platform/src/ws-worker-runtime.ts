import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { FeedDecoder } from './ws-worker-feed.js';
import { type FromWorker, type ToWorker, WS_WORKER_FEED_FD } from './ws-workers.js';

/** What a worker process does with what its pool sends it. */
export interface WsWorkerHandlers {
  /** Completes the handshake of an admitted client and serves it (see `WsFanout.adopt`). */
  adopt(req: IncomingMessage, socket: Socket, head: Buffer, state: unknown, address: string): void;
  /** One message of the feed; `payload` is a view into a chunk that is reused once this returns. */
  publish(key: string, payload: Buffer): void;
  /** The worker fell behind its feed: close every client (1013, reconnect). */
  disconnectAll(code: number, reason: string): void;
  /** Sends `code` to every client and waits (bounded) for their close handshakes. */
  close(code: number, reason: string, timeoutMs: number): Promise<void>;
  /** This worker's metrics, summed into the front's `/metrics`. */
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
}

/**
 * The worker side of a {@link WsWorkerPool}: waits for its `init`, starts the endpoint with it
 * (`start`), reads the feed from its pipe, adopts the sockets handed to it, reports each client's
 * end, answers metric requests, and exits when told to close or when the front goes away (its IPC
 * channel closes, whatever killed it).
 */
export function runWsWorker(
  start: (init: unknown, post: (body: unknown) => void) => WsWorkerHandlers | Promise<WsWorkerHandlers>,
): void {
  if (!process.send) throw new Error('a WebSocket worker must be started by a WsWorkerPool (no IPC channel)');
  const send = (message: FromWorker): void => {
    if (process.connected) process.send?.(message);
  };
  let handlers: WsWorkerHandlers | null = null;
  let closing = false;
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (message: ToWorker, handle?: unknown) => {
    switch (message.type) {
      case 'init': {
        handlers = await start(message.init, (body) => send({ type: 'app', body }));
        const feed = new Socket({ fd: WS_WORKER_FEED_FD, readable: true, writable: false });
        const active = handlers;
        const decoder = new FeedDecoder((key, payload) => active.publish(key, payload));
        feed.on('data', (chunk: Buffer) => decoder.push(chunk));
        feed.on('error', () => {});
        send({ type: 'ready' });
        return;
      }
      case 'conn': {
        const socket = handle instanceof Socket ? handle : null;
        if (!handlers || !socket || closing) {
          socket?.destroy();
          send({ type: 'closed', id: message.id });
          return;
        }
        socket.once('close', () => send({ type: 'closed', id: message.id }));
        const req = {
          method: message.method,
          url: message.url,
          headers: message.headers,
          socket,
        } as unknown as IncomingMessage;
        handlers.adopt(req, socket, Buffer.from(message.head, 'base64'), message.state, message.address);
        return;
      }
      case 'metrics':
        send({ type: 'metrics', req: message.req, metrics: handlers ? await handlers.metrics() : [] });
        return;
      case 'behind':
        handlers?.disconnectAll(1013, 'server fell behind; reconnect');
        closing = true;
        setTimeout(() => process.exit(0), 2_000).unref();
        return;
      case 'close':
        closing = true;
        await handlers?.close(message.code, message.reason, message.timeoutMs);
        process.exit(0);
    }
  });
}
