import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CandleHistory } from '../candle-history.js';
import { ReplayFileError } from './replay-error.js';
import { type ParsedFileName, parseReplayFileName, type ReplayFile } from './replay-files.js';
import {
  type CsvOptions,
  type FixtureTrade,
  klineRowsFromTrades,
  makeTrades,
  tempDirs,
  tradeCsv,
  writeZip,
} from './replay-fixtures.js';
import { TradeArchive } from './trade-archive.js';

const tempDir = tempDirs();
const DAY1 = Date.UTC(2025, 0, 1);
const DAY2 = DAY1 + 86_400_000;
const MINUTES = 240;

function tradeFile(
  dir: string,
  day: number,
  trades: readonly FixtureTrade[],
  options: CsvOptions & { zip?: boolean } = {},
): ReplayFile {
  const base = `ETHUSDT-trades-${new Date(day).toISOString().slice(0, 10)}`;
  const name = `${base}.${options.zip ? 'zip' : 'csv'}`;
  const path = join(dir, name);
  if (options.zip) writeZip(path, `${base}.csv`, tradeCsv(trades, options));
  else writeFileSync(path, tradeCsv(trades, options));
  return { ...(parseReplayFileName(name) as ParsedFileName), path, name };
}

async function load(files: ReplayFile[], tempDirPath: string): Promise<TradeArchive> {
  const archive = await TradeArchive.load({ symbol: 'ETHUSDT', files, tempDir: tempDirPath });
  archive.setFormat(2, 4);
  return archive;
}

const simple = (t: {
  tradeId?: number;
  id?: number;
  priceTicks: number;
  qtyLots: number;
  timeMs: number;
  buyerIsMaker: boolean;
}) => [t.tradeId ?? t.id, t.priceTicks, t.qtyLots, t.timeMs, t.buyerIsMaker];

describe('TradeArchive', () => {
  const day1 = makeTrades(DAY1, MINUTES);
  const day2 = makeTrades(DAY2, MINUTES, (day1.at(-1)?.id ?? 0) + 1);

  it.each<[string, CsvOptions & { zip?: boolean }]>([
    ['plain CSV, milliseconds', {}],
    ['zipped CSV with a header, microseconds', { zip: true, header: true, micro: true }],
  ])('serves every trade of a %s exactly: by time, by id, the latest', async (_case, options) => {
    const dir = tempDir();
    const unpackTo = tempDir();
    const archive = await load([tradeFile(dir, DAY1, day1, options)], unpackTo);
    try {
      expect(archive.seen).toMatchObject({ trades: day1.length, priceDecimals: 2, quantityDecimals: 4 });
      expect(archive.trades(DAY1, DAY2, 1e9).map(simple)).toEqual(day1.map(simple));
      const from = DAY1 + 37 * 60_000 + 12_345;
      const to = DAY1 + 95 * 60_000;
      expect(archive.trades(from, to, 1e9).map(simple)).toEqual(
        day1.filter((t) => t.timeMs >= from && t.timeMs < to).map(simple),
      );
      const mid = day1[500] as FixtureTrade;
      expect(archive.tradesFromId(mid.id, DAY2, 40).map(simple)).toEqual(day1.slice(500, 540).map(simple));
      expect(archive.tradesFromId(0, DAY2, 3).map(simple)).toEqual(day1.slice(0, 3).map(simple));
      expect(archive.tradesFromId(mid.id, mid.timeMs, 10)).toEqual([]); // not yet traded at that time
      expect(archive.tradesFromId((day1.at(-1)?.id ?? 0) + 1, DAY2, 10)).toEqual([]);
      expect(archive.latestTrades(mid.timeMs + 1, 25).map(simple)).toEqual(
        day1
          .filter((t) => t.timeMs <= mid.timeMs)
          .slice(-25)
          .map(simple),
      );
      const ids = (from: number, to: number) => {
        const inRange = day1.filter((t) => t.timeMs >= from && t.timeMs < to);
        return inRange.length === 0 ? null : { first: inRange[0]?.id, last: inRange.at(-1)?.id };
      };
      for (const [a, b] of [
        [DAY1, DAY1 + 60_000],
        [DAY1 + 3 * 60_000, DAY1 + 4 * 60_000], // a minute without trades
        [DAY1 + 60_000, DAY1 + 3_600_000],
        [DAY1 + 61_000, DAY1 + 62_500],
      ] as const) {
        expect(archive.tradeIdRange(a, b)).toEqual(ids(a, b));
      }
      // The unpacked copy of a zip is unlinked at once: nothing is left behind on disk.
      expect(readdirSync(unpackTo)).toEqual([]);
    } finally {
      archive.close();
    }
  });

  it('joins days into one id sequence and builds candles from the trades', async () => {
    const dir = tempDir();
    const archive = await load(
      [tradeFile(dir, DAY1, day1), tradeFile(dir, DAY2, day2, { zip: true, micro: true })],
      tempDir(),
    );
    try {
      expect(archive.tradesFromId(day1.at(-3)?.id ?? 0, DAY2 + 86_400_000, 6).map(simple)).toEqual(
        [...day1.slice(-3), ...day2.slice(0, 3)].map(simple),
      );
      expect(archive.covers(DAY1, DAY2 + 86_400_000)).toBe(true);
      expect(archive.covers(DAY1 - 1, DAY1 + 60_000)).toBe(false);
      const history = new CandleHistory(archive);
      const expected = klineRowsFromTrades(day2, '5m', DAY2, DAY2 + MINUTES * 60_000);
      const candles = history.candles('5m', DAY2, DAY2 + MINUTES * 60_000 - 1, DAY2 + 86_400_000, 1_000);
      expect(
        candles.map((c) => [c.openTimeMs, c.totals.trades, c.totals.openTicks, c.totals.closeTicks]),
      ).toEqual(
        expected.map((r) => [
          Number(r[0]),
          Number(r[8]),
          Math.round(Number(r[1]) * 100),
          Math.round(Number(r[4]) * 100),
        ]),
      );
    } finally {
      archive.close();
    }
  });

  const line = (t: FixtureTrade) => tradeCsv([t]).trim();
  it.each<[string, (t: FixtureTrade[]) => string, number, string]>([
    [
      'a repeated trade id',
      (t) => [line(t[0] as FixtureTrade), line(t[0] as FixtureTrade)].join('\n'),
      2,
      'trade id',
    ],
    ['six columns short', (t) => `${line(t[0] as FixtureTrade)}\n1,2,3`, 2, '3 columns, expected 7'],
    [
      'a side that is not a boolean',
      (t) =>
        line(t[0] as FixtureTrade)
          .replace(/True$/, 'yes')
          .replace(/,(True|False),yes$/, ',maybe,True'),
      1,
      'is_buyer_maker "maybe"',
    ],
    [
      'a zero price',
      (t) => line(t[0] as FixtureTrade).replace(/^(\d+),[^,]+,/, '$1,0.00000000,'),
      1,
      'price "0.00000000" is not a positive decimal',
    ],
    [
      'a trade on another day',
      (t) => line({ ...(t[0] as FixtureTrade), timeMs: DAY2 + 5 }),
      1,
      "outside the file's period",
    ],
    [
      'time running backwards',
      (t) =>
        [
          line(t[1] as FixtureTrade),
          line({ ...(t[2] as FixtureTrade), timeMs: (t[1]?.timeMs ?? 0) - 1 }),
        ].join('\n'),
      2,
      'before the previous trade',
    ],
    [
      'no trades at all',
      () => 'id,price,qty,quote_qty,time,is_buyer_maker,is_best_match',
      0,
      'holds no trades',
    ],
  ])('rejects %s, naming the file and line', async (_case, csv, lineNo, message) => {
    const dir = tempDir();
    const name = 'ETHUSDT-trades-2025-01-01.csv';
    writeFileSync(join(dir, name), `${csv(day1)}\n`);
    const file = { ...(parseReplayFileName(name) as ParsedFileName), path: join(dir, name), name };
    const loading = TradeArchive.load({ symbol: 'ETHUSDT', files: [file], tempDir: dir });
    await expect(loading).rejects.toBeInstanceOf(ReplayFileError);
    await expect(loading).rejects.toThrow(`${name}${lineNo > 0 ? ` line ${lineNo}` : ''}: `);
    await expect(loading).rejects.toThrow(message);
  });
});
