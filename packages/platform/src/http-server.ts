import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { truncateInput } from './truncate-input.js';

export type RouteHandler = (req: IncomingMessage, url: URL, res: ServerResponse) => void | Promise<void>;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** Keyed by path; GET and HEAD only unless listed in `methods`. */
  readonly routes: Readonly<Record<string, RouteHandler>>;
  readonly methods?: readonly string[];
  readonly onUpgrade?: UpgradeHandler;
  /**
   * Checked for every route not in `publicPaths`: false answers 401 with
   * `WWW-Authenticate: Bearer` (see `BearerAuth`). Upgrades are the WebSocket server's to check.
   */
  readonly authorize?: (req: IncomingMessage) => boolean;
  /** Routes answered without `authorize`: health and readiness, for orchestrators. */
  readonly publicPaths?: readonly string[];
  /**
   * Cross-origin reads by browsers: a request whose `Origin` is listed, to a path under one of
   * `pathPrefixes`, gets `Access-Control-Allow-Origin` with that origin. GET/HEAD requests are
   * simple; a preflight (OPTIONS, as a browser sends before a request carrying an
   * `Authorization` header) from a listed origin is answered too. Empty `origins`: no CORS header.
   */
  readonly cors?: {
    readonly origins: readonly string[];
    readonly pathPrefixes: readonly string[];
    /** Response headers a page of an allowed origin may read (`access-control-expose-headers`). */
    readonly exposeHeaders?: readonly string[];
  };
}

export interface RunningHttpServer {
  readonly server: Server;
  readonly port: number;
  /** Stops accepting, then closes idle and open HTTP connections. */
  close(): Promise<void>;
}

/**
 * Starts `server` listening: malformed requests are answered 400 and closed instead of left
 * hanging, and the returned `close` stops accepting, then closes idle and open connections.
 * Resolves once it listens (port 0 picks a free port).
 */
export function listen(server: Server, host: string, port: number): Promise<RunningHttpServer> {
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({
        server,
        port: address.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Thrown by handlers for a clean 4xx answer. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/**
 * Parses a request target without throwing: targets such as `//[` or `//` are not valid
 * relative URLs and would otherwise throw out of a request handler. Null means answer 400.
 */
export function parseRequestTarget(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export const DEFAULT_PUBLIC_PATHS: readonly string[] = ['/healthz', '/health', '/readyz'];

/** A small router over node:http: exact-path routes, JSON errors, WebSocket upgrades passed through. */
export function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const methods = new Set(options.methods ?? ['GET', 'HEAD']);
  const publicPaths = new Set(options.publicPaths ?? DEFAULT_PUBLIC_PATHS);
  const server = createServer((req, res) => {
    const url = parseRequestTarget(req.url);
    if (!url) {
      sendJson(res, 400, { error: 'invalid request target' });
      return;
    }
    const cors = options.cors;
    if (cors && cors.origins.length > 0 && cors.pathPrefixes.some((p) => url.pathname.startsWith(p))) {
      res.setHeader('vary', 'Origin');
      const origin = req.headers.origin;
      if (origin && cors.origins.includes(origin)) {
        res.setHeader('access-control-allow-origin', origin);
        if (cors.exposeHeaders?.length)
          res.setHeader('access-control-expose-headers', cors.exposeHeaders.join(', '));
        if (req.method === 'OPTIONS') {
          res.writeHead(204, {
            'access-control-allow-methods': [...methods].join(', '),
            'access-control-allow-headers': 'authorization',
            'access-control-max-age': '600',
          });
          res.end();
          return;
        }
      }
    }
    const route = options.routes[url.pathname];
    if (!route) {
      sendJson(res, 404, { error: 'not found', path: truncateInput(url.pathname) });
      return;
    }
    if (!methods.has(req.method ?? 'GET')) {
      sendJson(res, 405, { error: 'method not allowed' }, { allow: [...methods].join(', ') });
      return;
    }
    if (options.authorize && !publicPaths.has(url.pathname) && !options.authorize(req)) {
      sendJson(res, 401, { error: 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer' });
      return;
    }
    Promise.resolve()
      .then(() => route(req, url, res))
      .catch((err: unknown) => {
        if (err instanceof HttpError) {
          if (!res.headersSent) sendJson(res, err.status, err.body ?? { error: err.message });
          return;
        }
        options.logger.error({ err, path: truncateInput(url.pathname) }, 'http handler failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = parseRequestTarget(req.url);
    if (!url) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!options.onUpgrade) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    options.onUpgrade(req, socket, head, url);
  });
  return listen(server, options.host, options.port);
}

export interface HealthRoutesOptions {
  /** Always answers 200 while the process is up; the body describes the service. */
  readonly health: () => Record<string, unknown>;
  /** 200 when ready, 503 otherwise. */
  readonly ready: () => { readonly ready: boolean } & Record<string, unknown>;
  /** A registry, or anything that renders one (a front adding its workers' metrics). */
  readonly metrics: Pick<Registry, 'metrics' | 'contentType'>;
}

/** `/healthz`, `/health`, `/readyz` and `/metrics`, the same on every service. */
export function healthRoutes(options: HealthRoutesOptions): Record<string, RouteHandler> {
  const health: RouteHandler = (_req, _url, res) => sendJson(res, 200, { status: 'ok', ...options.health() });
  return {
    '/healthz': health,
    '/health': health,
    '/readyz': (_req, _url, res) => {
      const state = options.ready();
      sendJson(res, state.ready ? 200 : 503, { status: state.ready ? 'ready' : 'not ready', ...state });
    },
    '/metrics': async (_req, _url, res) => {
      const text = await options.metrics.metrics();
      res.writeHead(200, { 'content-type': options.metrics.contentType });
      res.end(text);
    },
  };
}
