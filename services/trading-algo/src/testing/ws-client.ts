import { type AlgoServerMessage, algoServerMessageSchema } from '@visualgo/contracts';
import { WebSocket } from 'ws';

/**
 * A real WebSocket client that validates every message it receives against the published
 * schemas (an invalid one is recorded in `invalid` and fails the test that checks it).
 */
export class TestWsClient {
  readonly messages: AlgoServerMessage[] = [];
  readonly invalid: string[] = [];
  closeCode: number | null = null;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      const parsed = algoServerMessageSchema.safeParse(JSON.parse(text));
      if (parsed.success) this.messages.push(parsed.data);
      else this.invalid.push(`${parsed.error.message}: ${text.slice(0, 300)}`);
    });
    socket.on('close', (code: number) => {
      this.closeCode = code;
    });
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<TestWsClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      const client = new TestWsClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      socket.once('error', reject);
    });
  }

  send(value: unknown): void {
    this.socket.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  of<T extends AlgoServerMessage['type']>(type: T): Extract<AlgoServerMessage, { type: T }>[] {
    return this.messages.filter((m): m is Extract<AlgoServerMessage, { type: T }> => m.type === type);
  }

  close(): void {
    this.socket.terminate();
  }
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
