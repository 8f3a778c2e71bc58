/** The data-ingest process stops cleanly on SIGTERM: WebSockets get 1001, gRPC streams end, exit 0 within 5 s. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { marketDataProto } from '@visualgo/contracts';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';

const serviceDir = fileURLToPath(new URL('..', import.meta.url));
const startedLine = z.object({
  msg: z.literal('data-ingest started'),
  grpcPort: z.number(),
  httpPort: z.number(),
});

let sim: SimExchange;
let child: ChildProcess | undefined;

beforeAll(async () => {
  sim = await startSimExchange({ port: 0, speed: 60, symbols: ['BTCUSDT'], historyDays: 1 });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await sim?.close();
});

function startIngest(): Promise<{ grpcPort: number; httpPort: number }> {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: serviceDir,
    env: {
      ...process.env,
      MARKET_SOURCE: 'sim',
      SIM_URL: sim.httpUrl,
      SYMBOLS: 'btcusdt',
      HISTORY_CANDLES: '50',
      INGEST_HOST: '127.0.0.1',
      INGEST_GRPC_PORT: '0',
      INGEST_HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const proc = child;
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`data-ingest exited early with ${code}`)));
    if (!proc.stdout) throw new Error('no stdout');
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        const parsed = startedLine.safeParse(JSON.parse(line));
        if (parsed.success) resolve(parsed.data);
      } catch {
        // not a log line
      }
    });
  });
}

describe('data-ingest shutdown', () => {
  it('closes WebSocket clients with 1001, ends gRPC streams and exits 0 within 5 s of SIGTERM', async () => {
    const { grpcPort, httpPort } = await startIngest();
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const client = new marketDataProto.MarketDataClient(
      `127.0.0.1:${grpcPort}`,
      credentials.createInsecure(),
    );
    const call = client.streamCandles({ streams: [], sinceOpenTimeMs: 0n, closedOnly: false });
    const grpcEnded = new Promise<number>((resolve) => {
      call.on('error', (e: ServiceError) => resolve(e.code));
      call.on('end', () => resolve(status.OK));
    });
    call.on('data', () => {});
    // The call is open once data-ingest counts it.
    for (;;) {
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      if (/^ingest_grpc_streams\{[^}]*\} 1$/m.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 20));
    }

    const proc = child;
    if (!proc) throw new Error('not started');
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const t0 = Date.now();
    proc.kill('SIGTERM');
    const [code, wsCode, grpcCode] = await Promise.all([exited, wsClosed, grpcEnded]);
    const elapsed = Date.now() - t0;
    client.close();
    expect(code).toBe(0);
    expect(wsCode).toBe(1001);
    expect(grpcCode).toBe(status.UNAVAILABLE);
    expect(elapsed).toBeLessThan(5_000);
  }, 30_000);
});
