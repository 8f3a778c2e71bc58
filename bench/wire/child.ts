import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, on every architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

const live = new Set<ChildProcess>();
// A benchmark that dies (an error, Ctrl-C) leaves no process behind: the services under test do
// not watch their IPC channel.
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

/** A benchmark child process (TypeScript through tsx) with an IPC channel to this one. */
export class Child {
  readonly process: ChildProcess;
  private readonly inbox: { type: string }[] = [];
  private readonly waiters: (() => void)[] = [];
  private exited = false;

  constructor(
    readonly name: string,
    file: string,
    env: Record<string, string>,
    args: readonly string[] = [],
  ) {
    this.process = spawn(process.execPath, [...args, '--import', 'tsx', file], {
      env: { ...process.env, LOG_LEVEL: 'warn', LOG_PRETTY: 'false', ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.process.on('message', (m: { type: string }) => {
      this.inbox.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    live.add(this.process);
    this.process.once('exit', () => {
      live.delete(this.process);
      this.exited = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  send(message: object): void {
    if (!this.exited) this.process.send(message);
  }

  /** The next message of `type` (earlier ones of other types are kept), or an error after `timeoutMs`. */
  async next<T extends { type: string }>(type: T['type'], timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as T;
      if (this.exited) throw new Error(`${this.name} exited before sending ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${type} within ${timeoutMs} ms`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /**
   * Peak and current resident set size (MB) from /proc, of this process and the processes it
   * started (an edge's WebSocket workers): the sum of each one's current RSS, and the sum of each
   * one's own peak (an upper bound of the peak of the sum). NaN where /proc is missing.
   */
  memory(): { readonly peakMb: number; readonly rssMb: number } {
    try {
      let peakKb = 0;
      let rssKb = 0;
      for (const pid of processTree(this.pid)) {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = (key: string) =>
          Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
        peakKb += kb('VmHWM');
        rssKb += kb('VmRSS');
      }
      return { peakMb: peakKb / 1024, rssMb: rssKb / 1024 };
    } catch {
      return { peakMb: Number.NaN, rssMb: Number.NaN };
    }
  }

  /**
   * CPU time (user + system) this process and the processes it started (still running) have used
   * so far, in ms (this process alone with `withChildren` false); NaN where /proc is missing.
   */
  cpuMs(withChildren = true): number {
    try {
      let ms = 0;
      for (const pid of withChildren ? processTree(this.pid) : [this.pid]) {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
      }
      return ms;
    } catch {
      return Number.NaN;
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

/** `pid` and its descendants, from /proc/<pid>/task/<tid>/children. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const tasks = readdirSync(`/proc/${out[i]}/task`);
    for (const tid of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8');
      } catch {
        continue; // the thread ended meanwhile
      }
      for (const c of children.split(' ')) if (c.trim()) out.push(Number(c));
    }
  }
  return out;
}

/** A port free now on 127.0.0.1 (for a child that takes its port from the environment). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Polls `url` until it answers 200, or throws after `timeoutMs`. */
export async function waitHttpOk(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ok within ${timeoutMs} ms`);
}
