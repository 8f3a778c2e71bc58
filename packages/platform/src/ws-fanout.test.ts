import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClientOptions, WebSocket } from 'ws';
import {
  FRAME_OVERHEAD_BYTES,
  SLOT_BYTES,
  type WsConnection,
  WsFanout,
  type WsFanoutOptions,
} from './ws-fanout.js';
import { WsFrame } from './ws-frame.js';

const logger = pino({ level: 'silent' });

interface Harness {
  readonly fanout: WsFanout<{ name: string }>;
  readonly url: string;
  readonly counts: {
    slow: number;
    messages: number;
    bytes: number;
    rateLimited: number;
    heartbeat: number;
    rejected: Record<string, number>;
  };
  readonly closes: number[];
  readonly received: string[];
  /** The server side of each upgraded connection, in order. */
  readonly sockets: Duplex[];
}

const servers: Server[] = [];
const fanouts: WsFanout<{ name: string }>[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(fanouts.splice(0).map((f) => f.closeAll(1001, 'test over', 200)));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function start(options: Partial<WsFanoutOptions<{ name: string }>> = {}): Promise<Harness> {
  const counts = {
    slow: 0,
    messages: 0,
    bytes: 0,
    rateLimited: 0,
    heartbeat: 0,
    rejected: {} as Record<string, number>,
  };
  const closes: number[] = [];
  const received: string[] = [];
  const serverSockets: Duplex[] = [];
  const fanout = new WsFanout<{ name: string }>({
    logger,
    heartbeatIntervalMs: 0,
    metrics: {
      slowConsumerDropped: () => counts.slow++,
      messagesOut: (n, b) => {
        counts.messages += n;
        counts.bytes += b;
      },
      rateLimited: () => counts.rateLimited++,
      heartbeatTimeout: () => counts.heartbeat++,
      upgradeRejected: (reason) => {
        counts.rejected[reason] = (counts.rejected[reason] ?? 0) + 1;
      },
    },
    onMessage: (client, text) => {
      received.push(text);
      fanout.send(client, `echo:${text}`);
    },
    onClose: (_client, code) => closes.push(code),
    ...options,
  });
  const server = createServer((_req, res) => res.end());
  server.on('upgrade', (req, socket, head) => {
    serverSockets.push(socket);
    fanout.handleUpgrade(req, socket, head, () =>
      req.url === '/bad'
        ? { accept: false, status: 400, body: '{"msg":"bad stream"}', contentType: 'application/json' }
        : { accept: true, state: { name: req.url ?? '' } },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  fanouts.push(fanout);
  const { port } = server.address() as AddressInfo;
  return { fanout, url: `ws://127.0.0.1:${port}`, counts, closes, received, sockets: serverSockets };
}

interface TestClient {
  readonly ws: WebSocket;
  readonly messages: string[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The TCP socket under the client, to stop reading from it. */
  readonly tcp: Promise<Socket>;
}

function connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
  const ws = new WebSocket(url, options);
  sockets.push(ws);
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(String(data)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const tcp = new Promise<Socket>((resolve) => ws.on('upgrade', (res) => resolve(res.socket)));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, closed, tcp }));
    ws.once('error', reject);
  });
}

/** Status and body of a refused upgrade. */
function refused(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url, { headers });
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => reject(new Error('upgrade was accepted')));
    ws.on('error', () => undefined);
  });
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets the fan-out flush (end of tick) and the socket report its writes. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * Makes the harness's only client `c` stop reading, then publishes rounds of 32 KiB messages until
 * it is behind: the kernel has not taken the batch inside its socket, and messages wait in its own
 * queue. Returns its connection, the server side of its socket, and how many were published.
 */
async function putBehind(h: Harness, c: TestClient) {
  (await c.tcp).pause();
  await until(() => h.fanout.size === 1);
  const [client] = h.fanout.clients();
  const socket = h.sockets[0];
  if (!client || !socket) throw new Error('no client');
  const payload = Buffer.from(`"${'q'.repeat(32 * 1024)}"`);
  for (let published = 0; published < 4_000; ) {
    for (let i = 0; i < 8; i++) h.fanout.broadcast(h.fanout.clients(), payload);
    published += 8;
    await nextTurn();
    if (client.bufferedBytes > socket.writableLength) return { client, socket, published };
  }
  throw new Error('the client never fell behind');
}

describe('WsFanout', () => {
  it('broadcasts one encoded message to every client and counts it', async () => {
    const h = await start();
    const a = await connect(`${h.url}/a`);
    const b = await connect(`${h.url}/b`);
    await until(() => h.fanout.size === 2);
    const text = '{"e":"kline","E":1}';
    expect(h.fanout.broadcast(h.fanout.clients(), text)).toBe(2);
    await until(() => a.messages.length === 1 && b.messages.length === 1);
    expect(a.messages).toEqual([text]);
    expect(b.messages).toEqual([text]);
    expect(h.counts.messages).toBe(2);
    expect(h.counts.bytes).toBe(2 * Buffer.byteLength(text));
    expect([...h.fanout.clients()].map((c) => c.state.name).sort()).toEqual(['/a', '/b']);
  });

  it('closes a client that stops reading with 1008 while a fast client receives everything', async () => {
    const h = await start({ maxBufferedBytes: 256 * 1024, slowConsumerCloseGraceMs: 5_000 });
    const fast = await connect(`${h.url}/fast`);
    const slow = await connect(`${h.url}/slow`);
    (await slow.tcp).pause();
    await until(() => h.fanout.size === 2);
    const payload = Buffer.from(`"${'x'.repeat(32 * 1024)}"`);
    let published = 0;
    // Publish in bursts and let the fast client catch up between them, until the slow one is cut off.
    while (h.counts.slow === 0 && published < 4_000) {
      for (let i = 0; i < 8; i++) h.fanout.broadcast(h.fanout.clients(), payload);
      published += 8;
      await until(() => fast.messages.length === published);
    }
    expect(h.counts.slow).toBe(1);
    for (let i = 0; i < 8; i++) h.fanout.broadcast(h.fanout.clients(), payload);
    published += 8;
    await until(() => fast.messages.length === published);
    expect(fast.ws.readyState).toBe(WebSocket.OPEN);
    (await slow.tcp).resume();
    expect(await slow.closed).toEqual({ code: 1008, reason: 'slow consumer' });
    expect(slow.messages.length).toBeLessThan(published);
    await until(() => h.fanout.size === 1);
    expect(h.closes).toEqual([1008]);
  });

  it('terminates a slow consumer that never completes the close handshake', async () => {
    const h = await start({ maxBufferedBytes: 64 * 1024, slowConsumerCloseGraceMs: 100 });
    const slow = await connect(`${h.url}/slow`);
    (await slow.tcp).pause();
    await until(() => h.fanout.size === 1);
    const payload = Buffer.from(`"${'y'.repeat(64 * 1024)}"`);
    for (let i = 0; i < 2_000 && h.counts.slow === 0; i++) {
      h.fanout.broadcast(h.fanout.clients(), payload);
      if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(h.counts.slow).toBe(1);
    await until(() => h.fanout.size === 0);
    expect(h.closes).toHaveLength(1);
  });

  it('bounds the bytes waiting over all clients: those that fall behind are cut off, a reader keeps everything', async () => {
    // Per client the limit is far away: only the total bound can cut the paused clients off.
    const maxTotal = 512 * 1024;
    const h = await start({
      maxBufferedBytes: 256 * 1024 * 1024,
      maxTotalBufferedBytes: maxTotal,
      slowConsumerCloseGraceMs: 100,
    });
    const fast = await connect(`${h.url}/fast`);
    const paused = await Promise.all([1, 2, 3].map((i) => connect(`${h.url}/slow${i}`)));
    for (const p of paused) (await p.tcp).pause();
    await until(() => h.fanout.size === 4);
    const payload = Buffer.from(`"${'z'.repeat(32 * 1024)}"`);
    const frameBytes = payload.length + 4;
    let published = 0;
    let maxSeen = 0;
    while (h.counts.slow < 3 && published < 8_000) {
      for (let i = 0; i < 8; i++) {
        h.fanout.broadcast(h.fanout.clients(), payload);
        maxSeen = Math.max(maxSeen, h.fanout.totalBufferedBytes);
      }
      published += 8;
      await until(() => fast.messages.length === published);
    }
    expect(h.counts.slow).toBe(3);
    // Past the bound only by one tick's burst, which clients that keep up always take.
    expect(maxSeen).toBeLessThanOrEqual(maxTotal + 4 * 8 * frameBytes);
    expect(fast.ws.readyState).toBe(WebSocket.OPEN);
    await until(() => h.fanout.size === 1);
    // Nothing of the closed clients stays counted.
    await until(() => h.fanout.totalBufferedBytes === 0);
  });

  it('hands a client that is behind nothing more: what it is owed waits in its own queue, and arrives in order once it reads', async () => {
    // Mutation guard for the memory bound: a socket holds one batch at most, so what is held is
    // in the queue, where it is counted.
    const h = await start({ maxBufferedBytes: 256 * 1024 * 1024, slowConsumerCloseGraceMs: 5_000 });
    const c = await connect(`${h.url}/c`);
    const behind = await putBehind(h, c);
    const { client, socket } = behind;
    let published = behind.published;
    const inSocket = socket.writableLength;
    const payload = Buffer.from(`"${'r'.repeat(32 * 1024)}"`);
    for (let round = 0; round < 10; round++) {
      const owed = client.bufferedBytes;
      for (let i = 0; i < 8; i++) expect(h.fanout.broadcast(h.fanout.clients(), payload)).toBe(1);
      published += 8;
      await nextTurn();
      expect(socket.writableLength).toBeLessThanOrEqual(inSocket);
      expect(client.bufferedBytes).toBe(owed + 8 * (payload.length + 4));
    }
    (await c.tcp).resume();
    await until(() => c.messages.length === published);
    expect(c.messages.at(-1)).toBe(String(payload));
    await until(() => h.fanout.totalBufferedBytes === 0);
    expect(client.bufferedBytes).toBe(0);
    expect(h.counts.slow).toBe(0);
  });

  it('sends the heartbeat ping and the close frame behind the data a client that is behind is still owed', async () => {
    const h = await start({ maxBufferedBytes: 256 * 1024 * 1024 });
    const c = await connect(`${h.url}/c`);
    const events: string[] = [];
    c.ws.on('message', (data) => events.push(String(data).length > 100 ? 'data' : String(data)));
    c.ws.on('ping', () => events.push('ping'));
    const { client, published } = await putBehind(h, c);
    expect(client.heartbeat()).toBe(true);
    expect(h.fanout.send(client, 'after the ping')).toBe(true);
    client.close(1000, 'done');
    expect(client.isOpen).toBe(false);
    expect(h.fanout.send(client, 'after the close')).toBe(false);
    (await c.tcp).resume();
    expect(await c.closed).toEqual({ code: 1000, reason: 'done' });
    expect(events).toEqual([...Array(published).fill('data'), 'ping', 'after the ping']);
    await until(() => h.fanout.size === 0);
    expect(h.fanout.totalBufferedBytes).toBe(0);
  });

  it('keeps the memory of many clients that stop reading within the total bound, cuts each with 1008, and counts nothing once they are gone', async () => {
    const clients = 12;
    const maxTotal = 1024 * 1024;
    // Only the total bound can cut them: the per-client bounds are out of reach.
    const h = await start({
      maxBufferedBytes: 256 * 1024 * 1024,
      maxQueuedMessages: 1_000_000,
      maxTotalBufferedBytes: maxTotal,
      slowConsumerCloseGraceMs: 100,
    });
    const stalled = await Promise.all(Array.from({ length: clients }, (_, i) => connect(`${h.url}/s${i}`)));
    for (const s of stalled) (await s.tcp).pause();
    await until(() => h.fanout.size === clients);
    // Small messages, so the count per message matters as much as the bytes.
    const payload = Buffer.from(`"${'s'.repeat(200)}"`);
    const perTick = 64;
    // A client not yet behind takes its tick's messages unchecked: the most the total can pass
    // the bound by is one tick's frames and every client's slots for them.
    const oneTick = perTick * (payload.length + 2 + FRAME_OVERHEAD_BYTES) + perTick * clients * SLOT_BYTES;
    let maxSeen = 0;
    for (let round = 0; round < 20_000 && h.counts.slow < clients; round++) {
      for (let i = 0; i < perTick; i++) {
        h.fanout.broadcast(h.fanout.clients(), payload);
        maxSeen = Math.max(maxSeen, h.fanout.totalBufferedBytes);
      }
      await nextTurn();
    }
    expect(h.counts.slow).toBe(clients);
    expect(maxSeen).toBeGreaterThan(maxTotal / 2);
    expect(maxSeen).toBeLessThanOrEqual(maxTotal + oneTick);
    // They never read: terminated after the grace, each counted once as closed.
    await until(() => h.fanout.size === 0);
    expect(h.closes).toHaveLength(clients);
    await until(() => h.fanout.totalBufferedBytes === 0);
  });

  it('holds a burst published in one tick to clients that keep up within the total bound: their batches go out early, and nobody is cut', async () => {
    // Mutation guard: without the early flush, the tick would hold every message for every client
    // until its end, whatever the bound.
    const maxTotal = 256 * 1024;
    const h = await start({ maxTotalBufferedBytes: maxTotal });
    const readers = await Promise.all([1, 2, 3, 4].map((i) => connect(`${h.url}/r${i}`)));
    await until(() => h.fanout.size === 4);
    const payload = Buffer.from(`"${'b'.repeat(200)}"`);
    const burst = 4_000; // 800 KB a client: what a loopback socket takes at once without a read
    let maxSeen = 0;
    for (let i = 0; i < burst; i++) {
      expect(h.fanout.broadcast(h.fanout.clients(), Buffer.from(`"${i}${'b'.repeat(200)}"`))).toBe(4);
      maxSeen = Math.max(maxSeen, h.fanout.totalBufferedBytes);
    }
    const oneMessage = payload.length + 8 + FRAME_OVERHEAD_BYTES + 4 * SLOT_BYTES;
    expect(maxSeen).toBeLessThanOrEqual(maxTotal + maxTotal / 16 + oneMessage);
    await until(() => readers.every((r) => r.messages.length === burst));
    for (const r of readers) expect(r.messages[burst - 1]).toBe(`"${burst - 1}${'b'.repeat(200)}"`);
    expect(h.counts.slow).toBe(0);
    await until(() => h.fanout.totalBufferedBytes === 0);
  });

  it('frames a message once and hands every client the same bytes', async () => {
    const h = await start();
    const clients = await Promise.all([1, 2, 3].map((i) => connect(`${h.url}/c${i}`)));
    await until(() => h.fanout.size === 3);
    const frame = WsFrame.text('{"e":"trade","t":1}');
    expect(h.fanout.broadcast(h.fanout.clients(), frame)).toBe(3);
    expect(h.fanout.send([...h.fanout.clients()][0] as WsConnection<{ name: string }>, frame)).toBe(true);
    await until(
      () => clients.every((c) => c.messages.length >= 1) && (clients[0]?.messages.length ?? 0) === 2,
    );
    for (const c of clients) expect(c.messages[0]).toBe('{"e":"trade","t":1}');
    expect(h.counts.bytes).toBe(4 * frame.payloadBytes);
  });

  it('terminates peers that do not answer pings and keeps those that do', async () => {
    const h = await start({ heartbeatIntervalMs: 50 });
    const live = await connect(`${h.url}/live`);
    let livePings = 0;
    live.ws.on('ping', () => livePings++);
    const dead = await connect(`${h.url}/dead`, { autoPong: false });
    expect((await dead.closed).code).toBe(1006);
    expect(h.counts.heartbeat).toBe(1);
    // Three more heartbeat rounds: each would have terminated the live peer had it missed a pong.
    const seen = livePings;
    await until(() => livePings >= seen + 3);
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
    expect(h.counts.heartbeat).toBe(1);
  });

  it('closes a connection that exceeds the inbound rate with 1008 after serving its burst', async () => {
    let t = 0;
    const h = await start({ inboundRateLimit: { messagesPerSecond: 2, burst: 3 }, now: () => t });
    const c = await connect(`${h.url}/c`);
    for (let i = 0; i < 3; i++) c.ws.send(`m${i}`);
    await until(() => c.messages.length === 3);
    t += 500; // one token back
    c.ws.send('m3');
    await until(() => c.messages.length === 4);
    c.ws.send('m4');
    expect(await c.closed).toEqual({ code: 1008, reason: 'too many messages' });
    expect(h.received).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(h.counts.rateLimited).toBe(1);
  });

  it('closes with 1009 on an incoming frame larger than maxPayload', async () => {
    const h = await start({ maxPayloadBytes: 1024 });
    const c = await connect(`${h.url}/c`);
    c.ws.send('x'.repeat(1000));
    await until(() => c.messages.length === 1);
    c.ws.send('x'.repeat(1025));
    expect((await c.closed).code).toBe(1009);
    expect(h.received).toHaveLength(1);
  });

  it('enforces the origin allowlist at upgrade and lets the application refuse with its own answer', async () => {
    const h = await start({ allowedOrigins: ['https://app.example'] });
    expect(await refused(`${h.url}/x`, { origin: 'https://evil.example' })).toEqual({
      status: 403,
      body: 'origin not allowed\n',
    });
    await connect(`${h.url}/x`, { headers: { origin: 'https://app.example' } });
    await connect(`${h.url}/x`); // no Origin header: not a browser
    expect(await refused(`${h.url}/bad`)).toEqual({ status: 400, body: '{"msg":"bad stream"}' });
    await until(() => h.fanout.size === 2);
  });

  it('refuses upgrades past maxClients with 503 and accepts again once a client leaves', async () => {
    const h = await start({ maxClients: 2 });
    const a = await connect(`${h.url}/a`);
    await connect(`${h.url}/b`);
    expect(await refused(`${h.url}/c`)).toEqual({ status: 503, body: 'too many WebSocket clients\n' });
    a.ws.close();
    await until(() => h.fanout.size === 1);
    await connect(`${h.url}/c`);
  });

  it('refuses upgrades past maxClientsPerAddress with 429, counts them, and accepts again once one leaves', async () => {
    const h = await start({ maxClientsPerAddress: 2 });
    const a = await connect(`${h.url}/a`);
    await connect(`${h.url}/b`);
    expect(await refused(`${h.url}/c`)).toEqual({
      status: 429,
      body: 'too many WebSocket connections from your address (at most 2)\n',
    });
    expect(h.counts.rejected).toEqual({ per_address: 1 });
    a.ws.close();
    await until(() => h.fanout.size === 1);
    await connect(`${h.url}/c`);
  });

  it('counts clients behind a trusted proxy by X-Forwarded-For, and ignores the header otherwise', async () => {
    const trusted = await start({ maxClientsPerAddress: 1, trustedProxies: new Set(['127.0.0.1']) });
    const via = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
    await connect(`${trusted.url}/a`, via('198.51.100.1'));
    await connect(`${trusted.url}/b`, via('198.51.100.2'));
    expect((await refused(`${trusted.url}/c`, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);
    const untrusted = await start({ maxClientsPerAddress: 1 });
    await connect(`${untrusted.url}/a`, via('198.51.100.1'));
    expect((await refused(`${untrusted.url}/b`, { 'x-forwarded-for': '198.51.100.2' })).status).toBe(429);
  });

  it('answers 401 when authorize refuses, after the origin check', async () => {
    const h = await start({
      allowedOrigins: ['https://app.example'],
      authorize: (req) => req.headers.authorization === 'Bearer let-me-in-please!',
    });
    expect((await refused(`${h.url}/x`, { origin: 'https://evil.example' })).status).toBe(403);
    expect(await refused(`${h.url}/x`)).toEqual({ status: 401, body: 'a valid bearer token is required\n' });
    expect(h.counts.rejected).toEqual({ origin: 1, unauthorized: 1 });
    await connect(`${h.url}/x`, { headers: { authorization: 'Bearer let-me-in-please!' } });
  });

  it('cuts off a client with more than 8192 messages queued even when their bytes are under the limit', async () => {
    // Mutation guard: without the message cap, floods of tiny messages are bounded by nothing.
    const h = await start({ slowConsumerCloseGraceMs: 5_000 });
    const c = await connect(`${h.url}/c`);
    await until(() => h.fanout.size === 1);
    const [client] = h.fanout.clients();
    if (!client) throw new Error('no client');
    // In one tick nothing reaches the socket, so every message is still queued.
    let sent = 0;
    for (let i = 0; i < 8_192; i++) if (h.fanout.send(client, `${i}`)) sent++;
    expect(sent).toBe(8_192);
    expect(h.counts.slow).toBe(0);
    expect(h.fanout.send(client, 'one too many')).toBe(false);
    expect(h.counts.slow).toBe(1);
    expect(await c.closed).toEqual({ code: 1008, reason: 'slow consumer' });
  });

  it('lets a reading client take a burst of 8192 messages in one tick', async () => {
    const h = await start();
    const c = await connect(`${h.url}/c`);
    await until(() => h.fanout.size === 1);
    const [client] = h.fanout.clients();
    if (!client) throw new Error('no client');
    for (let i = 0; i < 8_192; i++) h.fanout.send(client, `${i}`);
    await until(() => c.messages.length === 8_192);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect(h.counts.slow).toBe(0);
  });

  it('closeAll sends 1001 to every client, resolves, and refuses new upgrades', async () => {
    const h = await start();
    const a = await connect(`${h.url}/a`);
    const b = await connect(`${h.url}/b`);
    await until(() => h.fanout.size === 2);
    // The close handshakes end it, not the timeout: a minute here would time the test out.
    await h.fanout.closeAll(1001, 'restarting', 60_000);
    expect(await a.closed).toEqual({ code: 1001, reason: 'restarting' });
    expect(await b.closed).toEqual({ code: 1001, reason: 'restarting' });
    expect(h.fanout.size).toBe(0);
    expect((await refused(`${h.url}/c`)).status).toBe(503);
  });

  it('does not send to a client after it started closing', async () => {
    const h = await start();
    await connect(`${h.url}/a`);
    await until(() => h.fanout.size === 1);
    const [client] = h.fanout.clients();
    if (!client) throw new Error('no client');
    client.close(1000, 'bye');
    expect(client.isOpen).toBe(false);
    expect(h.fanout.send(client, 'late')).toBe(false);
    expect(h.counts.messages).toBe(0);
  });
});
