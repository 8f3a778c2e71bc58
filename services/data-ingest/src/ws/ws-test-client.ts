import type { Socket } from 'node:net';
import { type ClientOptions, WebSocket } from 'ws';

/** A real `ws` client that records what it receives, for the edge tests. */
export interface TestClient {
  readonly ws: WebSocket;
  readonly messages: string[];
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  /** The TCP socket under the client; pausing it makes a consumer that stops reading. */
  readonly tcp: Promise<Socket>;
  /** Sends a JSON request and resolves with the next message received after it. */
  request(body: unknown): Promise<unknown>;
}

const open = new Set<WebSocket>();

export function connectClient(url: string, options: ClientOptions = {}): Promise<TestClient> {
  const ws = new WebSocket(url, options);
  open.add(ws);
  const messages: string[] = [];
  const waiters: ((text: string) => void)[] = [];
  ws.on('message', (data) => {
    const text = String(data);
    messages.push(text);
    waiters.shift()?.(text);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      open.delete(ws);
      resolve({ code, reason: String(reason) });
    }),
  );
  const tcp = new Promise<Socket>((resolve) => ws.on('upgrade', (res) => resolve(res.socket)));
  const request = (body: unknown): Promise<unknown> =>
    new Promise((resolve) => {
      waiters.push((text) => resolve(JSON.parse(text)));
      ws.send(typeof body === 'string' ? body : JSON.stringify(body));
    });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, closed, tcp, request }));
    ws.once('error', reject);
  });
}

/** Status and body of an upgrade the server refused. */
export function refusedUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ readonly status: number; readonly body: string }> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('error', () => undefined);
  });
}

export function terminateClients(): void {
  for (const ws of open) ws.terminate();
  open.clear();
}

export async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
