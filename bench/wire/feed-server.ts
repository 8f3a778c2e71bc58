/**
 * The wire benchmark's Binance-shaped stream server, shared by both feeders: combined-stream
 * connections (`/stream?streams=a/b`, as data-ingest connects) and raw ones (`/ws/a/b`, as the
 * plain relay connects), `SUBSCRIBE`/`UNSUBSCRIBE` answered as Binance answers them, and each
 * frame sent to the connections that asked for its stream (looked up by stream, not by scanning
 * every connection, so a feeder of thousands of streams stays cheap).
 */
import type { IncomingMessage } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';

interface Feed {
  readonly ws: WebSocket;
  readonly combined: boolean;
  readonly streams: Set<string>;
}

export class FeedServer {
  private readonly wss: WebSocketServer;
  private readonly byStream = new Map<string, Set<Feed>>();

  private constructor(
    wss: WebSocketServer,
    /** Called with the streams a connection asked for in its URL, once it is open. */
    onFeed: (streams: readonly string[]) => void,
  ) {
    this.wss = wss;
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      const url = new URL(req.url ?? '/', 'http://feed');
      const combined = url.pathname.startsWith('/stream');
      const list = combined ? (url.searchParams.get('streams') ?? '') : url.pathname.slice('/ws/'.length);
      const feed: Feed = { ws, combined, streams: new Set() };
      for (const s of list.split('/')) if (s !== '') this.add(feed, s);
      onFeed([...feed.streams]);
      ws.on('message', (data) => {
        try {
          const m = JSON.parse(String(data)) as { method?: string; params?: string[]; id?: unknown };
          for (const s of m.params ?? []) {
            if (m.method === 'SUBSCRIBE') this.add(feed, s);
            if (m.method === 'UNSUBSCRIBE') this.remove(feed, s);
          }
          ws.send(JSON.stringify({ result: null, id: m.id ?? null }));
        } catch {
          ws.send('{"error":{"code":3,"msg":"Invalid JSON"},"id":null}');
        }
      });
      ws.on('close', () => {
        for (const s of [...feed.streams]) this.remove(feed, s);
      });
      ws.on('error', () => {});
    });
  }

  static async start(onFeed: (streams: readonly string[]) => void): Promise<FeedServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    return new FeedServer(wss, onFeed);
  }

  get url(): string {
    const address = this.wss.address();
    if (address === null || typeof address === 'string') throw new Error('feed server has no port');
    return `ws://127.0.0.1:${address.port}`;
  }

  /** Sends one event of `stream` to every connection that follows it; false when none does. */
  send(stream: string, payload: string): boolean {
    const feeds = this.byStream.get(stream);
    if (!feeds || feeds.size === 0) return false;
    let combined: string | undefined;
    for (const f of feeds) {
      if (f.combined) {
        combined ??= `{"stream":"${stream}","data":${payload}}`;
        f.ws.send(combined);
      } else {
        f.ws.send(payload);
      }
    }
    return true;
  }

  private add(feed: Feed, stream: string): void {
    feed.streams.add(stream);
    let feeds = this.byStream.get(stream);
    if (!feeds) {
      feeds = new Set();
      this.byStream.set(stream, feeds);
    }
    feeds.add(feed);
  }

  private remove(feed: Feed, stream: string): void {
    feed.streams.delete(stream);
    this.byStream.get(stream)?.delete(feed);
  }
}
