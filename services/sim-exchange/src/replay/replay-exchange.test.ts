/**
 * The exchange replaying generated archive files with trades: trades with their recorded ids,
 * prices, sizes and sides; kline updates built up from those trades; REST trade history by id;
 * zipped and plain, header or not, ms or µs; bad files refused before anything listens.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BinanceKlineEvent,
  type BinanceTradeEvent,
  binanceCombinedFrame,
  binanceHistoricalTrades,
  binanceKlineEvent,
  binanceTradeEvent,
} from '@visualgo/contracts';
import { describe, expect, it } from 'vitest';
import { formatScaled } from '../fixed-point.js';
import { startSimExchange } from '../sim-exchange.js';
import { testSims } from '../test-sim.js';
import { loadReplay } from './replay-data.js';
import { ReplayFileError } from './replay-error.js';
import {
  type CsvOptions,
  type FixtureTrade,
  klineCsv,
  klineRowsFromTrades,
  makeTrades,
  tempDirs,
  tradeCsv,
  writeZip,
} from './replay-fixtures.js';

const DAY = Date.UTC(2025, 0, 1);
const MINUTES = 180;
const tempDir = tempDirs();
const { start, connect } = testSims('replay-fixture');

interface Layout {
  readonly trades: CsvOptions & { zip?: boolean };
  readonly klines: CsvOptions & { zip?: boolean };
}

/** A day of ETHUSDT: trades and the 1m and 5m klines they make, written as the archive would. */
function writeDay(layout: Layout): {
  dir: string;
  trades: FixtureTrade[];
  rows1m: string[][];
  rows5m: string[][];
} {
  const dir = tempDir();
  const trades = makeTrades(DAY, MINUTES);
  const rows1m = klineRowsFromTrades(trades, '1m', DAY, DAY + MINUTES * 60_000);
  const rows5m = klineRowsFromTrades(trades, '5m', DAY, DAY + MINUTES * 60_000);
  const write = (base: string, csv: string, options: { zip?: boolean }) => {
    if (options.zip) writeZip(join(dir, `${base}.zip`), `${base}.csv`, csv);
    else writeFileSync(join(dir, `${base}.csv`), csv);
  };
  write('ETHUSDT-trades-2025-01-01', tradeCsv(trades, layout.trades), layout.trades);
  write('ETHUSDT-1m-2025-01-01', klineCsv(rows1m, layout.klines), layout.klines);
  write('ETHUSDT-5m-2025-01-01', klineCsv(rows5m, layout.klines), layout.klines);
  return { dir, trades, rows1m, rows5m };
}

/** A CSV row as REST serves it: numbers for the times and the trade count. */
const restRow = (r: readonly string[]) => r.map((v, i) => (i === 0 || i === 6 || i === 8 ? Number(v) : v));
const asRow = (k: BinanceKlineEvent['k']) => [
  String(k.t),
  k.o,
  k.h,
  k.l,
  k.c,
  k.v,
  String(k.T),
  k.q,
  String(k.n),
  k.V,
  k.Q,
  '0',
];

describe('replaying klines with their trades', () => {
  it.each<[string, Layout]>([
    ['plain, no header, milliseconds', { trades: {}, klines: {} }],
    [
      'zipped, header, microseconds',
      { trades: { zip: true, header: true, micro: true }, klines: { zip: true, header: true, micro: true } },
    ],
    [
      'zipped trades in µs, plain klines in ms',
      { trades: { zip: true, micro: true }, klines: { header: true } },
    ],
  ])('streams the recorded trades and builds each kline from them (%s)', async (_case, layout) => {
    const { dir, trades, rows1m } = writeDay(layout);
    const from = DAY + 60 * 60_000;
    const to = from + 30 * 60_000;
    const sim = await start({ replay: [dir], startMs: from });
    expect(sim.status().replay?.streams).toEqual(['ethusdt@kline_1m', 'ethusdt@kline_5m', 'ethusdt@trade']);
    const client = await connect('/stream?streams=ethusdt@kline_1m/ethusdt@trade');
    sim.advance(to - from);
    const expectedTrades = trades.filter((t) => t.timeMs >= from && t.timeMs < to);
    await client.waitForFrames(expectedTrades.length + 30 * 30, 5_000);
    const frames = client.frames.map((f) => binanceCombinedFrame.parse(JSON.parse(f)));
    const sent = frames
      .filter((f) => f.stream === 'ethusdt@trade')
      .map((f) => binanceTradeEvent.parse(f.data));
    expect(sent.map((t) => [t.t, t.p, t.q, t.T, t.m])).toEqual(
      expectedTrades.map((t) => [
        t.id,
        formatScaled(t.priceTicks, 2),
        formatScaled(t.qtyLots, 4),
        t.timeMs,
        t.buyerIsMaker,
      ]),
    );
    // Every kline update counts exactly the trades sent before it in its minute.
    let seen: BinanceTradeEvent[] = [];
    for (const f of frames) {
      if (f.stream === 'ethusdt@trade') {
        seen.push(binanceTradeEvent.parse(f.data));
        continue;
      }
      const k = binanceKlineEvent.parse(f.data).k;
      seen = seen.filter((t) => t.T >= k.t);
      expect([k.n, k.f, k.L, k.c]).toEqual(
        seen.length === 0 ? [0, -1, -1, k.c] : [seen.length, seen[0]?.t, seen.at(-1)?.t, seen.at(-1)?.p],
      );
      if (k.x) {
        const row = rows1m.find((r) => r[0] === String(k.t));
        expect(asRow(k)).toEqual(row);
      }
    }
    expect(
      frames.filter(
        (f) =>
          f.stream === 'ethusdt@kline_1m' && f.data !== null && JSON.stringify(f.data).includes('"x":true'),
      ),
    ).toHaveLength(30);
  });

  it('serves trade history by id and the ground truth, never past now', async () => {
    const { dir, trades } = writeDay({ trades: { zip: true, micro: true }, klines: {} });
    const now = DAY + 90 * 60_000 + 30_000;
    const sim = await start({ replay: [dir], startMs: now });
    const history = async (query: string) => {
      const res = await fetch(`${sim.httpUrl}/api/v3/historicalTrades?symbol=ETHUSDT&${query}`);
      expect(res.status).toBe(200);
      return binanceHistoricalTrades.parse(await res.json());
    };
    const past = trades.filter((t) => t.timeMs < now);
    const first = past[100] as FixtureTrade;
    expect(
      (await history(`fromId=${first.id}&limit=5`)).map((t) => [
        t.id,
        t.price,
        t.qty,
        t.time,
        t.isBuyerMaker,
        t.quoteQty,
      ]),
    ).toEqual(
      past
        .slice(100, 105)
        .map((t) => [
          t.id,
          formatScaled(t.priceTicks, 2),
          formatScaled(t.qtyLots, 4),
          t.timeMs,
          t.buyerIsMaker,
          formatScaled(BigInt(t.priceTicks) * BigInt(t.qtyLots), 6),
        ]),
    );
    // Paging to the end: fromId = last id + 1 until a short page; nothing after now.
    let fromId = past[0]?.id ?? 0;
    const all: number[] = [];
    for (;;) {
      const page = await history(`fromId=${fromId}&limit=1000`);
      all.push(...page.map((t) => t.id));
      if (page.length < 1000) break;
      fromId = (page.at(-1)?.id ?? 0) + 1;
    }
    expect(all).toEqual(past.map((t) => t.id));
    expect((await history('limit=3')).map((t) => t.id)).toEqual(past.slice(-3).map((t) => t.id));
    expect(sim.truth.trades('ETHUSDT', { startTimeMs: DAY }).map((t) => t.tradeId)).toEqual(
      past.map((t) => t.id),
    );
  });

  it('runs with faults: a dropped client reconnects and the kline book is the same rows', async () => {
    const { dir, rows1m } = writeDay({ trades: {}, klines: {} });
    const sim = await start({ replay: [dir], startMs: DAY + 10 * 60_000 });
    let client = await connect('/ws/ethusdt@kline_1m');
    sim.advance(3 * 60_000);
    await client.waitForFrames(90);
    expect(sim.dropConnections({ closeFrame: false })).toBe(1);
    await client.waitForClose();
    sim.advance(2 * 60_000); // no listener: nothing is sent
    client = await connect('/ws/ethusdt@kline_1m');
    sim.advance(60_000);
    await client.waitForFrames(30);
    expect(asRow(binanceKlineEvent.parse(JSON.parse(client.frames.at(-1) ?? '')).k)).toEqual(rows1m[15]);
    expect(sim.truth.klineRows('ethusdt@kline_1m', { startTimeMs: DAY })).toEqual(
      rows1m.slice(0, 16).map(restRow),
    );
  });
});

describe('bad replay files', () => {
  it('refuse to start, naming the file and line', async () => {
    const { dir } = writeDay({ trades: {}, klines: {} });
    const bad = klineRowsFromTrades(makeTrades(DAY, 10), '1m', DAY, DAY + 10 * 60_000);
    (bad[6] as string[])[2] = '1.00000000'; // high below low
    writeFileSync(join(dir, 'ETHUSDT-1m-2025-01-01.csv'), klineCsv(bad));
    const starting = startSimExchange({ replay: [dir], port: 0 });
    await expect(starting).rejects.toBeInstanceOf(ReplayFileError);
    await expect(starting).rejects.toThrow(
      /ETHUSDT-1m-2025-01-01\.csv line 7: low .* is above high 1\.00000000/,
    );
  });

  it('refuse a corrupt zip and a symbol the files do not have', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ETHUSDT-trades-2025-01-01.zip'), 'not a zip at all');
    await expect(loadReplay({ paths: [dir] })).rejects.toThrow(
      'ETHUSDT-trades-2025-01-01.zip: not a zip file',
    );
    const { dir: good } = writeDay({ trades: {}, klines: {} });
    await expect(loadReplay({ paths: [good], symbols: ['BTCUSDT'] })).rejects.toThrow(
      'no replay files for BTCUSDT',
    );
  });
});

describe('loaded replay data', () => {
  it('can be shared by several exchanges and outlives them', async () => {
    const { dir, rows1m } = writeDay({ trades: { zip: true }, klines: {} });
    const data = await loadReplay({ paths: [dir] });
    try {
      expect(data).toMatchObject({ symbols: ['ETHUSDT'], firstMs: DAY, endMs: DAY + 86_400_000 });
      expect(data.defaultStartMs).toBe(DAY + 43_200_000);
      for (let i = 0; i < 2; i++) {
        const sim = await startSimExchange({ replay: data, startMs: DAY + 20 * 60_000, clock: 'manual' });
        expect(sim.truth.klineRows('ethusdt@kline_1m', { startTimeMs: DAY })).toEqual(
          rows1m.slice(0, 20).map(restRow),
        );
        expect(sim.truth.trades('ETHUSDT', { startTimeMs: DAY + 19 * 60_000 }).length).toBeGreaterThan(0);
        await sim.close();
      }
    } finally {
      data.close();
    }
  });
});
