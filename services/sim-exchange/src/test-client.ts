import { WebSocket } from 'ws';

/**
 * A WebSocket client for tests: records every frame and close, and waits for frames matching a
 * predicate with a deadline, so tests stay bounded in time.
 */
export class TestClient {
  readonly frames: string[] = [];
  readonly binaryFrames: Buffer[] = [];
  readonly pings: string[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binaryFrames.push(Buffer.isBuffer(data) ? data : Buffer.from(String(data)));
      else this.frames.push(String(data));
      this.notify();
    });
    ws.on('ping', (data) => {
      this.pings.push(data.toString('utf8'));
      this.notify();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.notify();
    });
    ws.on('error', () => {});
  }

  static open(url: string, options: { autoPong?: boolean } = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { autoPong: options.autoPong ?? true });
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  /** Parsed JSON frames (frames that are not JSON are skipped). */
  json(): unknown[] {
    const out: unknown[] = [];
    for (const f of this.frames) {
      try {
        out.push(JSON.parse(f));
      } catch {
        // not JSON
      }
    }
    return out;
  }

  /** Resolves when `condition()` holds; rejects after `timeoutMs`. */
  waitFor(condition: () => boolean, timeoutMs = 3_000, what = 'condition'): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(
          new Error(
            `timed out waiting for ${what}; got ${this.frames.length} frames, closed=${JSON.stringify(this.closed)}`,
          ),
        );
      }, timeoutMs);
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  waitForFrames(count: number, timeoutMs = 3_000): Promise<void> {
    return this.waitFor(() => this.frames.length >= count, timeoutMs, `${count} frames`);
  }

  waitForClose(timeoutMs = 3_000): Promise<{ code: number; reason: string }> {
    return this.waitFor(() => this.closed !== null, timeoutMs, 'close').then(() => {
      if (!this.closed) throw new Error('not closed');
      return this.closed;
    });
  }

  /** Waits for a reply carrying `id` and returns it. */
  async reply(id: number | string | null, timeoutMs = 3_000): Promise<unknown> {
    const find = (): unknown =>
      this.json().find((m) => typeof m === 'object' && m !== null && 'id' in m && m.id === id);
    await this.waitFor(() => find() !== undefined, timeoutMs, `reply ${String(id)}`);
    return find();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
