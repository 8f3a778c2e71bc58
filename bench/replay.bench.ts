/**
 * Replay loading: a month of 1m klines for one symbol (30 daily archive files, generated in a
 * temporary folder) and a trade file, loaded by `loadReplay`, against a plain CSV read of the
 * same bytes measured in the same run. Time and the memory kept afterwards.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadReplay, type ReplayData } from '@visualgo/sim-exchange';
import { type Check, measureAsync } from './harness.js';

const DAY_MS = 86_400_000;
const MONTH_START = Date.UTC(2024, 3, 1);
const TRADES = 400_000;

function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
}

const dec = (units: number, places: number) => {
  const text = String(Math.round(units)).padStart(places + 1, '0');
  return `${text.slice(0, -places)}.${text.slice(-places).padEnd(8, '0')}`;
};

/** 30 days of ETHUSDT-like 1m klines as the archive writes them: one CSV per day. */
function writeMonth(dir: string): number {
  const rand = random(11);
  let price = 300_000; // cents
  let bytes = 0;
  for (let day = 0; day < 30; day++) {
    const start = MONTH_START + day * DAY_MS;
    const lines: string[] = [];
    for (let m = 0; m < 1440; m++) {
      const open = price;
      const close = Math.max(100, open + Math.round((rand() - 0.5) * 400));
      const high = Math.max(open, close) + Math.round(rand() * 150);
      const low = Math.max(1, Math.min(open, close) - Math.round(rand() * 150));
      const volume = 1 + Math.round(rand() * 5_000_000); // 1e-4 units
      const taker = Math.round(volume * rand());
      const vwap = (high + low + close) / 3;
      const t = start + m * 60_000;
      lines.push(
        [
          t,
          dec(open, 2),
          dec(high, 2),
          dec(low, 2),
          dec(close, 2),
          dec(volume, 4),
          t + 59_999,
          dec(volume * vwap, 6),
          1 + Math.floor(rand() * 3_000),
          dec(taker, 4),
          dec(taker * vwap, 6),
          0,
        ].join(','),
      );
      price = close;
    }
    const text = `${lines.join('\n')}\n`;
    writeFileSync(join(dir, `ETHUSDT-1m-${new Date(start).toISOString().slice(0, 10)}.csv`), text);
    bytes += Buffer.byteLength(text);
  }
  return bytes;
}

/** One day of trades, ids contiguous, times ascending. */
function writeTrades(dir: string): number {
  const rand = random(5);
  const lines: string[] = [];
  let price = 300_000;
  for (let i = 0; i < TRADES; i++) {
    price = Math.max(100, price + Math.round((rand() - 0.5) * 6));
    const qty = 1 + Math.floor(rand() * 20_000);
    const time = MONTH_START + Math.floor((i / TRADES) * DAY_MS);
    lines.push(
      [
        3_000_000_000 + i,
        dec(price, 2),
        dec(qty, 4),
        dec(price * qty, 6),
        time,
        rand() < 0.5 ? 'True' : 'False',
        'True',
      ].join(','),
    );
  }
  const text = `${lines.join('\n')}\n`;
  writeFileSync(join(dir, 'ETHUSDT-trades-2024-04-01.csv'), text);
  return Buffer.byteLength(text);
}

/** The plain way: read every file, split lines and fields, parse each field as a number. */
function naiveParse(dir: string): number {
  let sum = 0;
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      for (const field of line.split(',')) sum += Number(field) || 0;
    }
  }
  return sum;
}

/** Heap plus typed-array memory, after collecting garbage. */
function retainedBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function retainedBy(load: () => Promise<ReplayData>): Promise<number> {
  const before = retainedBytes();
  const data = await load();
  const after = retainedBytes();
  data.close();
  return after - before;
}

export async function replayBenchmarks(): Promise<{ table: Record<string, number>; checks: Check[] }> {
  const monthDir = mkdtempSync(join(tmpdir(), 'bench-replay-month-'));
  const tradeDir = mkdtempSync(join(tmpdir(), 'bench-replay-trades-'));
  try {
    const monthBytes = writeMonth(monthDir);
    const tradeBytes = writeTrades(tradeDir);
    let sink = 0;
    const naive = await measureAsync('naive CSV parse, a month of 1m klines', 1, async () => {
      sink += naiveParse(monthDir);
    });
    const load = await measureAsync('loadReplay, a month of 1m klines', 1, async () => {
      const data = await loadReplay({ paths: [monthDir] });
      sink += data.endMs;
      data.close();
    });
    const monthRetained = await retainedBy(() => loadReplay({ paths: [monthDir] }));

    const tradeNaive = await measureAsync(
      'naive CSV parse, trades',
      1,
      async () => {
        sink += naiveParse(tradeDir);
      },
      3,
    );
    const tradeLoad = await measureAsync(
      'loadReplay, trades',
      1,
      async () => {
        const data = await loadReplay({ paths: [tradeDir] });
        sink += data.endMs;
        data.close();
      },
      3,
    );
    const tradeRetained = await retainedBy(() => loadReplay({ paths: [tradeDir] }));
    if (sink === 42) console.log('');
    const mib = (b: number) => b / 1024 / 1024;

    return {
      table: {
        'replay month of 1m klines: rows': 30 * 1440,
        'replay month of 1m klines: CSV size (MiB)': mib(monthBytes),
        'replay month: naive CSV parse (ms)': naive.nsPerOp / 1e6,
        'replay month: loadReplay (ms)': load.nsPerOp / 1e6,
        'replay month: memory kept after load (MiB)': mib(monthRetained),
        [`replay trades: ${TRADES} trades, CSV size (MiB)`]: mib(tradeBytes),
        'replay trades: naive CSV parse (ms)': tradeNaive.nsPerOp / 1e6,
        'replay trades: loadReplay, checked and indexed (ms)': tradeLoad.nsPerOp / 1e6,
        'replay trades: memory kept after load (MiB)': mib(tradeRetained),
      },
      checks: [
        {
          name: 'a month of klines loads fast',
          ratio: load.nsPerOp / naive.nsPerOp,
          limit: 3,
          detail: `loadReplay ${(load.nsPerOp / 1e6).toFixed(0)} ms / naive CSV parse ${(naive.nsPerOp / 1e6).toFixed(0)} ms (target < 1 s)`,
        },
        {
          name: 'a month of klines is held compactly',
          ratio: monthRetained / monthBytes,
          limit: 1,
          detail: `${mib(monthRetained).toFixed(1)} MiB kept / ${mib(monthBytes).toFixed(1)} MiB of CSV (target < 20 MB)`,
        },
        {
          name: 'trade files are indexed at parse speed',
          ratio: tradeLoad.nsPerOp / tradeNaive.nsPerOp,
          limit: 3,
          detail: `loadReplay ${(tradeLoad.nsPerOp / 1e6).toFixed(0)} ms / naive CSV parse ${(tradeNaive.nsPerOp / 1e6).toFixed(0)} ms`,
        },
        {
          name: 'trade files are streamed, not held',
          ratio: tradeRetained / tradeBytes,
          limit: 0.05,
          detail: `${mib(tradeRetained).toFixed(2)} MiB kept / ${mib(tradeBytes).toFixed(1)} MiB of CSV`,
        },
      ],
    };
  } finally {
    rmSync(monthDir, { recursive: true, force: true });
    rmSync(tradeDir, { recursive: true, force: true });
  }
}
