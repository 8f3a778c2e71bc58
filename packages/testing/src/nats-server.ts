import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/**
 * The `nats-server` binary: `NATS_SERVER_BIN`, or Debian's package (`apt-get install -y
 * nats-server`), or one on the PATH. Throws with how to install it when there is none.
 */
export function natsServerBinary(): string {
  const named = process.env.NATS_SERVER_BIN;
  if (named) return named;
  for (const path of CANDIDATES) if (existsSync(path)) return path;
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  if (which.status === 0 && found) return found;
  throw new Error(
    'nats-server not found: the NATS tests start a real server (Debian: apt-get install -y nats-server; or set NATS_SERVER_BIN)',
  );
}

/** A free TCP port on 127.0.0.1 (the OS's choice, released before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Every server started by this process, stopped on exit whatever happens to the test. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface NatsServerOptions {
  /** JetStream store directory; default a new temporary one, removed by `stop`. */
  readonly storeDir?: string;
  /** Port; default a free one. A restart keeps it. */
  readonly port?: number;
  /** A configuration file (`-c`), such as the cluster's users and permissions; flags still set the rest. */
  readonly configFile?: string;
}

/**
 * A `nats-server` with JetStream on loopback, started by the test and stopped by its PID. It keeps
 * its port and store across `restart`, so clients reconnect to the same server and data.
 */
export class TestNatsServer {
  private child: ChildProcess | null = null;
  private output = '';
  private readonly ownsStore: boolean;

  private constructor(
    readonly port: number,
    /** The HTTP monitoring port (`/connz`, `/jsz`). */
    readonly monitorPort: number,
    readonly storeDir: string,
    ownsStore: boolean,
    private readonly configFile?: string,
  ) {
    this.ownsStore = ownsStore;
  }

  static async start(options: NatsServerOptions = {}): Promise<TestNatsServer> {
    const port = options.port ?? (await freePort());
    const monitorPort = await freePort();
    const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'visualgo-nats-'));
    const server = new TestNatsServer(
      port,
      monitorPort,
      storeDir,
      options.storeDir === undefined,
      options.configFile,
    );
    await server.launch();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isRunning(): boolean {
    return this.child !== null;
  }

  /** What the server logged (for a failing test's message). */
  get log(): string {
    return this.output;
  }

  private async launch(): Promise<void> {
    const child = spawn(
      natsServerBinary(),
      [
        '-js',
        '-a',
        '127.0.0.1',
        '-p',
        String(this.port),
        '-m',
        String(this.monitorPort),
        '-sd',
        this.storeDir,
        '-n',
        `test-${this.port}`,
        ...(this.configFile ? ['-c', this.configFile] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    running.add(child);
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) =>
        reject(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${this.output}`)),
      );
      child.once('error', reject);
    });
    const ready = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.length > 64_000) this.output = this.output.slice(-32_000);
        if (this.output.includes('Server is ready')) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
    });
    const timeout = new Promise<never>((_, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server not ready in 10 s:\n${this.output}`)),
        10_000,
      );
      timer.unref();
    });
    try {
      await Promise.race([ready, exited, timeout]);
    } catch (err) {
      await this.kill('SIGKILL');
      throw err;
    }
    exited.catch(() => {});
    child.once('exit', () => {
      running.delete(child);
      if (this.child === child) this.child = null;
    });
  }

  /**
   * The subjects each client connection has subscribed to, by client name (from the server's
   * monitoring endpoint `/connz?subs=1`): what interest the server sees.
   */
  async subscriptions(): Promise<Map<string, string[]>> {
    const response = await fetch(`http://127.0.0.1:${this.monitorPort}/connz?subs=1&limit=1024`);
    const body = (await response.json()) as {
      connections?: { name?: string; subscriptions_list?: string[] }[];
    };
    const out = new Map<string, string[]>();
    for (const c of body.connections ?? []) {
      const name = c.name ?? '';
      out.set(name, [...(out.get(name) ?? []), ...(c.subscriptions_list ?? [])].sort());
    }
    return out;
  }

  /** Sends `signal` to the server's PID and waits until it has exited. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child);
      this.child = null;
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const escalate = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(escalate);
    running.delete(child);
    this.child = null;
  }

  /** Stops the server (SIGTERM: JetStream flushes its store) and starts it again on the same port and store. */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.kill(signal);
    await this.launch();
  }

  /** Stops the server and removes the store it created. */
  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    if (this.ownsStore) rmSync(this.storeDir, { recursive: true, force: true });
  }
}
