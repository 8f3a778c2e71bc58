import { connect as netConnect } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, healthRoutes, type RunningHttpServer, sendJson, startHttpServer } from './http-server.js';
import { createMetrics } from './metrics.js';

const logger = pino({ level: 'silent' });
let server: RunningHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('startHttpServer', () => {
  it('routes by path and answers JSON errors for unknown paths, methods and failures', async () => {
    let ready = false;
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      routes: {
        '/hello': (_req, url, res) => sendJson(res, 200, { name: url.searchParams.get('name') }),
        '/bad': () => {
          throw new HttpError(400, 'bad limit');
        },
        '/boom': () => {
          throw new Error('boom');
        },
        ...healthRoutes({
          health: () => ({ exchange: 'binance-sim' }),
          ready: () => ({ ready }),
          metrics: createMetrics('t'),
        }),
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    expect(await (await fetch(`${base}/hello?name=x`)).json()).toEqual({ name: 'x' });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/hello`, { method: 'POST' })).status).toBe(405);
    const bad = await fetch(`${base}/bad`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'bad limit' });
    expect((await fetch(`${base}/boom`)).status).toBe(500);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok', exchange: 'binance-sim' });
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('process_cpu_user_seconds_total{service="t"}');
  });

  it('lets listed browser origins read the listed paths cross-origin, and no one else', async () => {
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      cors: {
        origins: ['http://localhost:3000'],
        pathPrefixes: ['/api/'],
        exposeHeaders: ['x-history-partial'],
      },
      routes: {
        '/api/data': (_req, _url, res) => sendJson(res, 200, { ok: true }),
        '/healthz': (_req, _url, res) => sendJson(res, 200, { ok: true }),
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    const allowed = await fetch(`${base}/api/data`, { headers: { origin: 'http://localhost:3000' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(allowed.headers.get('vary')).toBe('Origin');
    expect(allowed.headers.get('access-control-expose-headers')).toBe('x-history-partial');
    const other = await fetch(`${base}/api/data`, { headers: { origin: 'https://evil.example' } });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('access-control-expose-headers')).toBeNull();
    const unlisted = await fetch(`${base}/healthz`, { headers: { origin: 'http://localhost:3000' } });
    expect(unlisted.headers.get('access-control-allow-origin')).toBeNull();
  });
});

/** Sends a raw HTTP/1.1 request line and returns the status line of the answer. */
function rawRequest(port: number, target: string, upgrade = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => {
      const extra = upgrade
        ? 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
        : 'Connection: close\r\n';
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`);
    });
    let data = '';
    socket.on('data', (chunk) => {
      data += String(chunk);
      if (data.includes('\r\n')) {
        resolve(data.slice(0, data.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

describe('request targets', () => {
  it('answers 400 to targets that are not valid URLs and keeps serving', async () => {
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      routes: { '/ok': (_req, _url, res) => sendJson(res, 200, {}) },
      onUpgrade: (_req, socket) => socket.destroy(),
    });
    for (const target of ['//[', '//', '/\\', '//[::1']) {
      expect(await rawRequest(server.port, target)).toMatch(/^HTTP\/1\.1 (400|404)/);
      expect(await rawRequest(server.port, target, true)).toMatch(/^HTTP\/1\.1 (400|404)/);
    }
    expect(await rawRequest(server.port, '//[')).toBe('HTTP/1.1 400 Bad Request');
    expect((await fetch(`http://127.0.0.1:${server.port}/ok`)).status).toBe(200);
  });
});

describe('authorisation and origins', () => {
  it('answers 401 without a valid token, except on health and readiness', async () => {
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      authorize: (req) => req.headers.authorization === 'Bearer a-valid-token-123',
      routes: {
        '/api/data': (_req, _url, res) => sendJson(res, 200, { ok: true }),
        ...healthRoutes({
          health: () => ({}),
          ready: () => ({ ready: true }),
          metrics: createMetrics('t', false),
        }),
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    const denied = await fetch(`${base}/api/data`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    expect(await denied.json()).toEqual({ error: 'a valid bearer token is required' });
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const ok = await fetch(`${base}/api/data`, { headers: { authorization: 'Bearer a-valid-token-123' } });
    expect(ok.status).toBe(200);
    for (const path of ['/healthz', '/health', '/readyz'])
      expect((await fetch(`${base}${path}`)).status).toBe(200);
  });

  it("answers a listed origin's preflight, so a browser page may send the token cross-origin", async () => {
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      authorize: (req) => req.headers.authorization === 'Bearer a-valid-token-123',
      cors: { origins: ['https://charts.example'], pathPrefixes: ['/api/'] },
      routes: { '/api/data': (_req, _url, res) => sendJson(res, 200, { ok: true }) },
    });
    const base = `http://127.0.0.1:${server.port}`;
    const preflight = await fetch(`${base}/api/data`, {
      method: 'OPTIONS',
      headers: { origin: 'https://charts.example', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://charts.example');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization');
    const read = await fetch(`${base}/api/data`, {
      headers: { origin: 'https://charts.example', authorization: 'Bearer a-valid-token-123' },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBe('https://charts.example');
    // Another origin's preflight is not answered as allowed.
    const other = await fetch(`${base}/api/data`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.status).toBe(405);
  });

  it('truncates a long unknown path in the 404 body', async () => {
    server = await startHttpServer({ host: '127.0.0.1', port: 0, logger, routes: {} });
    const res = await fetch(`http://127.0.0.1:${server.port}/${'p'.repeat(5_000)}`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { path: string };
    expect(body.path).toBe(`/${'p'.repeat(63)}…(4937 more chars)`);
  });
});
