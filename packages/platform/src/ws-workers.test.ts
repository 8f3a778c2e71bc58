import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WsWorkerPool } from './ws-workers.js';

const WORKER = new URL('./ws-workers.test-worker.ts', import.meta.url).pathname;

let pool: WsWorkerPool | undefined;
let server: Server | undefined;
afterEach(async () => {
  await pool?.close(1001, 'test over', 1_000);
  await new Promise((r) => server?.close(r) ?? r(undefined));
  pool = undefined;
  server = undefined;
});

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Client {
  readonly messages: string[];
  readonly closed: Promise<{ code: number; reason: string }>;
}

function connect(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  ws.on('message', (d) => messages.push(String(d)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ messages, closed }));
    ws.once('error', reject);
  });
}

describe('WsWorkerPool', () => {
  it('cuts a worker that stops reading its feed: its clients get 1013, it restarts, new clients are served', async () => {
    const logs: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
        done();
      },
    });
    pool = new WsWorkerPool({
      workers: 1,
      entry: WORKER,
      execArgv: ['--import', 'tsx'],
      init: null,
      logger: pino({ level: 'info' }, sink),
      admission: {},
      maxFeedBacklogBytes: 64 * 1024,
      restartDelayMs: 50,
    });
    const active = pool;
    server = createServer();
    server.on('upgrade', (req, socket, head) =>
      active.handleUpgrade(req, socket, head, () => ({ accept: true, state: null })),
    );
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await active.whenReady(30_000);
    const client = await connect(url);
    active.publish('m', 'first');
    await until('first message', () => client.messages.length === 1);
    expect(client.messages).toEqual(['first']);

    // The worker stops for 3 s while the feed keeps coming: past 64 KiB unread, it is cut.
    active.publish('block', '3000');
    const chunk = 'x'.repeat(16 * 1024);
    for (
      let i = 0;
      i < 200 && !logs.some((l) => l.msg === 'websocket worker fell behind its feed, closing its clients');
      i++
    ) {
      active.publish('m', chunk);
      await new Promise((r) => setImmediate(r));
    }
    expect(logs.some((l) => l.msg === 'websocket worker fell behind its feed, closing its clients')).toBe(
      true,
    );
    expect(await client.closed).toEqual({ code: 1013, reason: 'server fell behind; reconnect' });
    await until('restarted', () => logs.filter((l) => l.msg === 'websocket worker ready').length === 2);
    expect(active.size).toBe(0);

    const again = await connect(url);
    active.publish('m', 'after');
    await until('served again', () => again.messages.length === 1);
    expect(again.messages).toEqual(['after']);
  }, 40_000);

  it('answers 503 while no worker serves; the server closes after the pool, its handed-over sockets counted out', async () => {
    pool = new WsWorkerPool({
      workers: 1,
      entry: WORKER,
      execArgv: ['--import', 'tsx'],
      init: null,
      logger: pino({ level: 'silent' }),
      admission: {},
    });
    const active = pool;
    server = createServer();
    server.on('upgrade', (req, socket, head) =>
      active.handleUpgrade(req, socket, head, () => ({ accept: true, state: null })),
    );
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    // Before the worker is ready: refused with 503, not held.
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(503);
    await active.whenReady(30_000);
    const client = await connect(url);
    expect(active.size).toBe(1);
    // The server that handed its sockets over still closes once the workers are gone.
    await active.close(1001, 'test over', 1_000);
    expect((await client.closed).code).toBe(1001);
    await new Promise((r) => server?.close(r));
    server = undefined;
    pool = undefined;
  }, 40_000);
});
