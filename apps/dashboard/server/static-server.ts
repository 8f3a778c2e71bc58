import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { type Logger, listen, type RunningHttpServer } from '@visualgo/platform';
import type { RuntimeConfig } from '../src/app/runtime-config.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** One file of the build, held in memory with its precompressed forms (made by scripts/compress.mjs). */
interface Asset {
  readonly body: Buffer;
  readonly br: Buffer | null;
  readonly gzip: Buffer | null;
  readonly type: string;
  readonly etag: string;
  readonly cacheControl: string;
}

/**
 * Loads the built page into memory: it is small (a few hundred KB), and serving from memory needs
 * no file system access per request and no path to sanitise against the disk. `.br`/`.gz` files
 * beside an asset are its precompressed forms.
 */
export function loadAssets(root: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = join(dir, name);
      if (statSync(file).isDirectory()) {
        walk(file);
        continue;
      }
      if (name.endsWith('.br') || name.endsWith('.gz')) continue;
      const path = `/${relative(root, file).split(sep).join('/')}`;
      const body = readFileSync(file);
      const read = (suffix: string) => {
        try {
          return readFileSync(file + suffix);
        } catch {
          return null;
        }
      };
      assets.set(path, {
        body,
        br: read('.br'),
        gzip: read('.gz'),
        type: TYPES[extname(name)] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        // Vite puts content-hashed files under /assets/: they never change, cache them for a year.
        // The page itself must be revalidated so a new build is picked up at once.
        cacheControl: path.startsWith('/assets/')
          ? 'public, max-age=31536000, immutable'
          : path === '/index.html'
            ? 'no-cache'
            : 'public, max-age=300',
      });
    }
  };
  walk(root);
  if (!assets.has('/index.html')) throw new Error(`no index.html in ${root}: build the dashboard first`);
  return assets;
}

export interface StaticServerOptions {
  readonly host: string;
  readonly port: number;
  readonly root: string;
  readonly logger: Logger;
  /** `/config.json` for a request. */
  readonly runtimeConfig: (req: IncomingMessage) => RuntimeConfig;
}

export type RunningStaticServer = RunningHttpServer;

/** Picks the smallest encoding the client accepts: brotli, then gzip, else identity. */
export function chooseEncoding(acceptEncoding: string | undefined, asset: Asset): 'br' | 'gzip' | null {
  const accepted = new Set(
    (acceptEncoding ?? '')
      .split(',')
      .map((part) => part.trim().split(';'))
      .filter(([, q]) => q === undefined || !/^\s*q=0(\.0*)?\s*$/.test(q))
      .map(([name]) => (name ?? '').trim().toLowerCase()),
  );
  if (asset.br && accepted.has('br')) return 'br';
  if (asset.gzip && (accepted.has('gzip') || accepted.has('*'))) return 'gzip';
  return null;
}

/** A content security policy that lets the page reach exactly its backends. */
function contentSecurityPolicy(config: RuntimeConfig): string {
  const origins = new Set<string>();
  for (const url of [config.algoHttpUrl, config.algoWsUrl, config.ingestHttpUrl, config.ingestWsUrl]) {
    origins.add(new URL(url).origin);
  }
  return [
    "default-src 'self'",
    `connect-src 'self' ${[...origins].join(' ')}`,
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/**
 * The dashboard's production server: the built page with caching headers and precompressed
 * brotli/gzip, `/config.json` (the backend URLs, from the environment), `/healthz`.
 */
export function startStaticServer(options: StaticServerOptions): Promise<RunningStaticServer> {
  const assets = loadAssets(options.root);
  const startedAt = new Date().toISOString();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      send(res, 400, '{"error":"invalid request target"}', TYPES['.json'] as string);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, '{"error":"method not allowed"}', TYPES['.json'] as string, { allow: 'GET, HEAD' });
      return;
    }
    const head = req.method === 'HEAD';
    if (url.pathname === '/healthz' || url.pathname === '/health') {
      const body = JSON.stringify({ status: 'ok', service: 'dashboard', assets: assets.size, startedAt });
      send(res, 200, head ? '' : body, TYPES['.json'] as string);
      return;
    }
    if (url.pathname === '/config.json') {
      send(res, 200, head ? '' : JSON.stringify(options.runtimeConfig(req)), TYPES['.json'] as string);
      return;
    }
    // The view lives in the query string; any path without a file extension is the page.
    const path = url.pathname === '/' || !extname(url.pathname) ? '/index.html' : url.pathname;
    const asset = assets.get(path);
    if (!asset) {
      send(res, 404, JSON.stringify({ error: 'not found', path: url.pathname }), TYPES['.json'] as string);
      return;
    }
    const headers: Record<string, string> = {
      'content-type': asset.type,
      'cache-control': asset.cacheControl,
      etag: asset.etag,
      vary: 'Accept-Encoding',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    if (path === '/index.html')
      headers['content-security-policy'] = contentSecurityPolicy(options.runtimeConfig(req));
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const encoding = chooseEncoding(req.headers['accept-encoding'], asset);
    const body = encoding === 'br' ? asset.br : encoding === 'gzip' ? asset.gzip : asset.body;
    if (encoding) headers['content-encoding'] = encoding;
    headers['content-length'] = String(body?.length ?? 0);
    res.writeHead(200, headers);
    res.end(head ? undefined : body);
  };
  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      options.logger.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) send(res, 500, '{"error":"internal error"}', TYPES['.json'] as string);
      else res.destroy();
    }
  });
  return listen(server, options.host, options.port);
}
