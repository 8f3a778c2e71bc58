import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LIFELINE_ENV } from '@visualgo/platform';

/** The repository root (where `node --import tsx` finds tsx). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One JSON log line of a service (pino), with its `msg`. */
export type LogLine = Record<string, unknown> & { readonly msg?: string };

/**
 * A service run as its own process (`node --import tsx <entry>`), as in production: logs are kept
 * (JSON lines), and the test stops it by PID, gracefully (SIGTERM) or not at all (SIGKILL, which
 * is what `kill -9` does).
 */
export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly lines: LogLine[] = [];
  private text = '';
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    /** Path of the entry point, from the repository root (`services/data-ingest/src/main.ts`). */
    entry: string,
    env: Readonly<Record<string, string>>,
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: REPO_ROOT,
      // The lifeline: the service exits once this process's end of its stdin closes, so it never
      // outlives the test runner, even one killed with SIGKILL.
      env: { ...process.env, LOG_PRETTY: 'false', [LIFELINE_ENV]: 'stdin', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.add(this.child);
    let pending = '';
    const onData = (chunk: Buffer) => {
      const s = chunk.toString();
      this.text = (this.text + s).slice(-200_000);
      pending += s;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith('{')) {
          try {
            this.lines.push(JSON.parse(line) as LogLine);
          } catch {
            // Not a log line.
          }
        }
        nl = pending.indexOf('\n');
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this.child);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isRunning(): boolean {
    return this.exit === null;
  }

  /** How it ended, once it has. */
  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.exit;
  }

  /** Its log lines so far. */
  get logs(): readonly LogLine[] {
    return this.lines;
  }

  /** Its raw output (the end of it), for a failing test's message. */
  get output(): string {
    return this.text;
  }

  /** Resolves with the first log line that `match`es (past or future); rejects on exit or timeout. */
  async waitForLog(match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.exit)
        throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}):\n${this.text.slice(-4_000)}`);
      if (Date.now() > deadline)
        throw new Error(`${this.name}: no such log line in ${timeoutMs} ms:\n${this.text.slice(-4_000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends `signal` to the process and waits for it to exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    if (this.exit) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** `kill -9`: no cleanup, no flushing, the connections just drop. */
  kill9(): Promise<void> {
    return this.stop('SIGKILL');
  }
}
