/**
 * `npm run demo -- --replay <folder> --speed max --start <time>`: the whole system on a real
 * Binance day (ETHUSDT 1m, 2022-08-15, from ../shared/data), with faults injected through the
 * simulator's control API on the way. Every candle of the day reaches data-ingest (open, high,
 * low, close, volumes, trade count: the file's strings exactly) and trading-algo (open, high,
 * low, close, volume), once each and in order.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { binanceKlineRows, indicatorHistoryResponseSchema } from '@visualgo/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const root = fileURLToPath(new URL('..', import.meta.url));
const DATA_DIR = fileURLToPath(new URL('../../shared/data/binance-spot-ethusdt-1m/', import.meta.url));
const HAVE_DATA = existsSync(DATA_DIR);
if (!HAVE_DATA) console.warn(`replay demo test: Binance klines not found at ${DATA_DIR}; skipped`);

const DAY = Date.UTC(2022, 7, 15);
const END = DAY + 86_400_000;
const status = z.object({
  marketTimeMs: z.number(),
  connections: z.number(),
  replay: z.object({ finished: z.boolean() }),
});
let runner: ChildProcess | undefined;

afterAll(() => {
  if (runner?.pid && runner.exitCode === null) process.kill(-runner.pid, 'SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

let output = '';

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}; the services said:\n${output.split('\n').slice(-60).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!HAVE_DATA)('npm run demo -- --replay', () => {
  it('plays a real day through data-ingest and trading-algo, candle for candle equal to the file, with faults', async () => {
    const [simPort, http, grpc, algoPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    runner = spawn(
      process.execPath,
      [
        'scripts/run-services.mjs',
        'demo',
        '--replay',
        DATA_DIR,
        '--speed',
        'max',
        '--start',
        '2022-08-15T00:00:00Z',
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          SIM_PORT: String(simPort),
          INGEST_HTTP_PORT: String(http),
          INGEST_GRPC_PORT: String(grpc),
          ALGO_HTTP_PORT: String(algoPort),
          HISTORY_CANDLES: '3000',
          UPSTREAM_STALE_MS: '2000',
          LOG_LEVEL: 'warn',
        },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    output = '';
    runner.stdout?.on('data', (d) => {
      output += String(d);
    });
    runner.stderr?.on('data', (d) => {
      output += String(d);
    });
    const exited = new Promise<number | null>((resolve) => runner?.once('exit', (code) => resolve(code)));
    const sim = `http://127.0.0.1:${simPort}/sim`;
    const control = async (path: string, body: unknown = {}) => {
      const res = await fetch(`${sim}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
    };
    const simStatus = async () => status.parse(await (await fetch(`${sim}/status`)).json());

    await until('the system', async () => output.includes('VisuALGO is running (replay'), 90_000);
    expect(output).toContain(
      'VisuALGO is running (replay of recorded Binance data, 2022-08-14T00:00:00Z to 2022-08-16T00:00:00Z, from 2022-08-15T00:00:00Z at speed max)',
    );

    // A fault at each quarter of the day: the market pauses, the fault goes in, the market goes on.
    const faults: [number, () => Promise<void>][] = [
      [DAY + 6 * 3_600_000, () => control('/connections/drop', { closeFrame: false })],
      [
        DAY + 12 * 3_600_000,
        async () => {
          await control('/rest/faults', { mode: '500', count: 2, pathPrefix: '/api/v3/klines' });
          await control('/connections/server-shutdown', { closeAfterMs: 100 });
        },
      ],
      [
        DAY + 18 * 3_600_000,
        async () => {
          await control('/connections/malformed', { kind: 'truncated' });
          await control('/connections/stall', { durationMs: 2_500 });
        },
      ],
    ];
    for (const [at, inject] of faults) {
      await until(
        `market time ${new Date(at).toISOString()}`,
        async () => (await simStatus()).marketTimeMs >= at,
        60_000,
      );
      await control('/market/pause');
      await inject();
      await control('/market/resume');
    }
    await until('the end of the day', async () => (await simStatus()).replay.finished, 60_000);

    const fileRows = readFileSync(`${DATA_DIR}ETHUSDT-1m-2022-08-15.csv`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(',').map((v, i) => (i === 0 || i === 6 || i === 8 ? Number(v) : v)));
    expect(fileRows).toHaveLength(1440);

    const ingestRows = async () => {
      const rows = [];
      for (let from = DAY; from < END; from += 1000 * 60_000) {
        const res = await fetch(
          `http://127.0.0.1:${http}/api/v3/klines?symbol=ETHUSDT&interval=1m&startTime=${from}&endTime=${END - 1}&limit=1000`,
        );
        rows.push(...binanceKlineRows.parse(await res.json()));
      }
      return rows;
    };
    await until('data-ingest has the day', async () => (await ingestRows()).length === 1440, 30_000);
    expect(await ingestRows()).toEqual(fileRows);

    const algoPoints = async () => {
      const res = await fetch(
        `http://127.0.0.1:${algoPort}/api/indicators?stream=ethusdt@kline_1m&limit=2000`,
      );
      return indicatorHistoryResponseSchema.parse(await res.json()).points.filter((p) => p.openTimeMs >= DAY);
    };
    await until(
      'trading-algo has the day',
      async () => (await algoPoints()).at(-1)?.openTimeMs === END - 60_000,
      30_000,
    );
    const points = await algoPoints();
    expect(points.map((p) => [p.openTimeMs, p.open, p.high, p.low, p.close, p.volume, p.final])).toEqual(
      fileRows.map((r) => [r[0], Number(r[1]), Number(r[2]), Number(r[3]), Number(r[4]), Number(r[5]), true]),
    );

    const pid = runner.pid;
    if (pid === undefined) throw new Error('runner has no pid');
    process.kill(-pid, 'SIGINT');
    expect(await exited).toBe(0);
  }, 180_000);
});
