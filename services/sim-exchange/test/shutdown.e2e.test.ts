/** The sim-exchange process stops cleanly on SIGTERM: stream clients get 1001 (going away), exit 0. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TestClient } from '@visualgo/sim-exchange';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const serviceDir = fileURLToPath(new URL('..', import.meta.url));
const readyLine = z.object({ msg: z.literal('simulated Binance ready'), streams: z.string() });
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
});

function startSim(): Promise<string> {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: serviceDir,
    env: { ...process.env, SIM_PORT: '0', SIM_SYMBOLS: 'btcusdt', LOG_LEVEL: 'info', LOG_PRETTY: 'false' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const proc = child;
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`sim-exchange exited early with ${code}`)));
    if (!proc.stdout) throw new Error('no stdout');
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        const parsed = readyLine.safeParse(JSON.parse(line));
        if (parsed.success) resolve(parsed.data.streams);
      } catch {
        // not a log line
      }
    });
  });
}

describe('sim-exchange shutdown', () => {
  it('closes stream connections with 1001 and exits 0 on SIGTERM', async () => {
    const wsUrl = await startSim();
    const raw = await TestClient.open(`${wsUrl}/ws/btcusdt@kline_1m`);
    const combined = await TestClient.open(`${wsUrl}/stream?streams=btcusdt@trade`);
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child?.kill('SIGTERM');
    expect(await raw.waitForClose(5_000)).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await combined.waitForClose(5_000)).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await exited).toBe(0);
  }, 30_000);
});
