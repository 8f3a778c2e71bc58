import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LIFELINE_ENV, watchLifeline } from './lifeline.js';
import { Shutdown } from './shutdown.js';

const silent = pino({ level: 'silent' });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('watchLifeline', () => {
  it('does nothing unless the environment asks for it', () => {
    const input = new PassThrough();
    expect(watchLifeline(silent, new Shutdown(silent), { env: {}, input })).toBe(false);
    expect(input.listenerCount('end')).toBe(0);
  });

  it('refuses a lifeline it does not know', () => {
    expect(() => watchLifeline(silent, new Shutdown(silent), { env: { [LIFELINE_ENV]: 'fd3' } })).toThrow(
      /must be "stdin"/,
    );
  });

  it('runs the shutdown and exits 0 once its input ends, whatever was written before', async () => {
    const input = new PassThrough();
    const shutdown = new Shutdown(silent);
    const stopped: string[] = [];
    shutdown.register('server', () => {
      stopped.push('server');
    });
    const exits: number[] = [];
    expect(
      watchLifeline(silent, shutdown, {
        env: { [LIFELINE_ENV]: 'stdin' },
        input,
        exit: (c) => exits.push(c),
      }),
    ).toBe(true);
    input.write('anything');
    expect(exits).toEqual([]);
    input.end();
    await until('exit', () => exits.length > 0);
    expect(stopped).toEqual(['server']);
    expect(exits).toEqual([0]);
  });

  it('ends a grandchild when its parent is killed with SIGKILL', async () => {
    // The parent starts a child whose stdin it holds, prints the child's pid and waits; the child
    // watches its lifeline. SIGKILL on the parent closes the pipe, and the child must go.
    const platform = fileURLToPath(new URL('./index.ts', import.meta.url));
    const childCode = `
      import { pino } from 'pino';
      import { Shutdown, watchLifeline } from ${JSON.stringify(platform)};
      const logger = pino({ level: 'silent' });
      watchLifeline(logger, new Shutdown(logger));
      setInterval(() => {}, 1_000);
    `;
    const parentCode = `
      const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ${JSON.stringify(childCode)}], {
        env: { ...process.env, ${LIFELINE_ENV}: 'stdin' },
        stdio: ['pipe', 'ignore', 'inherit'],
      });
      console.log(child.pid);
      setInterval(() => {}, 1_000);
    `;
    const parent = spawn(process.execPath, ['-e', parentCode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await until('the child pid', () => out.includes('\n'));
    const childPid = Number(out.trim());
    expect(alive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    await until('the orphaned child to exit', () => !alive(childPid), 15_000);
  }, 30_000);
});
