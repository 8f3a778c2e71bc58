import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDashboardConfig } from './config.js';
import { runtimeConfigFor } from './runtime-config.js';
import { type RunningStaticServer, startStaticServer } from './static-server.js';

let dir: string;
let server: RunningStaticServer;
let base: string;
const js = 'console.log("dashboard");'.repeat(100);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dashboard-static-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>VisuALGO</title>');
  writeFileSync(join(dir, 'assets/index-abc123.js'), js);
  writeFileSync(join(dir, 'assets/index-abc123.js.br'), brotliCompressSync(js));
  writeFileSync(join(dir, 'assets/index-abc123.js.gz'), gzipSync(js));
  const config = loadDashboardConfig({
    DASHBOARD_ALGO_PORT: '8090',
    DASHBOARD_INGEST_URL: 'https://ingest.example/',
  });
  server = await startStaticServer({
    host: '127.0.0.1',
    port: 0,
    root: dir,
    logger: pino({ level: 'silent' }),
    runtimeConfig: (req) => runtimeConfigFor(config, { host: req.headers.host, secure: false }),
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** node's fetch decompresses on its own; these checks need the bytes on the wire. */
async function raw(path: string, headers: Record<string, string> = {}) {
  const { request } = await import('node:http');
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }>((resolve, reject) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard server', () => {
  it('sends hashed assets precompressed (brotli first, then gzip) and cacheable for a year', async () => {
    const br = await raw('/assets/index-abc123.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(brotliDecompressSync(br.body).toString()).toBe(js);
    const gz = await raw('/assets/index-abc123.js', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(js);
    const plain = await raw('/assets/index-abc123.js', { 'accept-encoding': 'br;q=0' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(js);
  });

  it('revalidates the page itself, answers 304 to a matching ETag, and serves it for any extensionless path', async () => {
    const page = await raw('/');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(String(page.headers['content-security-policy'])).toContain(
      "connect-src 'self' http://127.0.0.1:8090 ws://127.0.0.1:8090 https://ingest.example wss://ingest.example",
    );
    const again = await raw('/', { 'if-none-match': String(page.headers.etag) });
    expect(again.status).toBe(304);
    expect((await raw('/some/view')).body.toString()).toContain('<title>VisuALGO</title>');
  });

  it('answers /config.json with the backends as the browser reaches them, derived from its Host', async () => {
    const res = await raw('/config.json', { host: 'trading.lan:3000' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(res.body.toString())).toEqual({
      algoHttpUrl: 'http://trading.lan:8090',
      algoWsUrl: 'ws://trading.lan:8090/ws',
      ingestHttpUrl: 'https://ingest.example',
      ingestWsUrl: 'wss://ingest.example',
      defaultStream: 'btcusdt@kline_1m',
      rubberbandK: 2,
      signalHorizonCandles: 5,
    });
  });

  it('answers /healthz, 404 for unknown files (no path escapes the build), 405 for other methods', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({
      status: 'ok',
      service: 'dashboard',
      assets: 2,
    });
    expect((await raw('/assets/missing.js')).status).toBe(404);
    expect((await raw('/../../etc/passwd.txt')).status).toBe(404);
    expect((await raw('/assets/..%2f..%2fpackage.json')).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses bad settings with a message naming the variable', () => {
    expect(() => loadDashboardConfig({ DASHBOARD_ALGO_URL: 'ftp://x' })).toThrow(
      /DASHBOARD_ALGO_URL="ftp:\/\/x"/,
    );
    expect(() => loadDashboardConfig({ DASHBOARD_DEFAULT_STREAM: 'BTC' })).toThrow(
      /DASHBOARD_DEFAULT_STREAM/,
    );
    expect(() => loadDashboardConfig({ DASHBOARD_PORT: '99999' })).toThrow(/DASHBOARD_PORT/);
  });
});
