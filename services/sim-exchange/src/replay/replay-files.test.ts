import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReplayError } from './replay-error.js';
import { findReplayFiles, parseReplayFileName } from './replay-files.js';
import { tempDirs } from './replay-fixtures.js';

const tempDir = tempDirs();

describe('parseReplayFileName', () => {
  it('reads symbol, kind, interval and the day or month of archive names', () => {
    expect(parseReplayFileName('ETHUSDT-1m-2022-08-14.csv')).toEqual({
      symbol: 'ETHUSDT',
      kind: 'klines',
      interval: '1m',
      periodStartMs: Date.UTC(2022, 7, 14),
      periodEndMs: Date.UTC(2022, 7, 15),
      zipped: false,
    });
    expect(parseReplayFileName('BTCUSDT-trades-2024-02.zip')).toEqual({
      symbol: 'BTCUSDT',
      kind: 'trades',
      interval: null,
      periodStartMs: Date.UTC(2024, 1, 1),
      periodEndMs: Date.UTC(2024, 2, 1),
      zipped: true,
    });
    expect(parseReplayFileName('BNBBTC-1mo-2023-12.zip')?.interval).toBe('1M');
    expect(parseReplayFileName('BNBBTC-1M-2023-12.csv')?.interval).toBe('1M');
    expect(parseReplayFileName('ETHUSDT-1s-2025-01-01.zip')?.interval).toBe('1s');
  });

  it('refuses other names and impossible dates', () => {
    for (const name of [
      'ETHUSDT-aggTrades-2022-08-14.zip',
      'ETHUSDT-1m-2022-08-14.zip.CHECKSUM',
      'ethusdt-1m-2022-08-14.csv',
      'ETHUSDT-2m-2022-08-14.csv',
      'ETHUSDT-1m-2022-02-30.csv',
      'ETHUSDT-1m-2022-13.csv',
      'README.md',
    ]) {
      expect([name, parseReplayFileName(name)]).toEqual([name, null]);
    }
  });
});

describe('findReplayFiles', () => {
  it('searches folders recursively, skips other files, prefers a CSV over the zip it came from', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'klines', 'ETHUSDT', '1m'), { recursive: true });
    for (const name of [
      'ETHUSDT-1m-2022-08-15.csv',
      'ETHUSDT-1m-2022-08-14.csv',
      'ETHUSDT-1m-2022-08-14.zip',
    ]) {
      writeFileSync(join(dir, 'klines', 'ETHUSDT', '1m', name), '');
    }
    writeFileSync(join(dir, 'ETHUSDT-1m-2022-08-14.zip.CHECKSUM'), '');
    writeFileSync(join(dir, 'BTCUSDT-trades-2022-08-14.zip'), '');
    const found = await findReplayFiles([dir]);
    expect(
      found.files.map((f) => [
        f.symbol,
        f.kind,
        f.interval,
        new Date(f.periodStartMs).toISOString(),
        f.zipped,
      ]),
    ).toEqual([
      ['BTCUSDT', 'trades', null, '2022-08-14T00:00:00.000Z', true],
      ['ETHUSDT', 'klines', '1m', '2022-08-14T00:00:00.000Z', false],
      ['ETHUSDT', 'klines', '1m', '2022-08-15T00:00:00.000Z', false],
    ]);
    expect(found.files[1]?.name).toBe(join(dir, 'klines', 'ETHUSDT', '1m', 'ETHUSDT-1m-2022-08-14.csv'));
    expect(found.ignored).toEqual([
      join(dir, 'ETHUSDT-1m-2022-08-14.zip.CHECKSUM'),
      `${join(dir, 'klines', 'ETHUSDT', '1m', 'ETHUSDT-1m-2022-08-14.zip')} (the same data as its unzipped CSV)`,
    ]);
  });

  it('takes a list of files and folders', async () => {
    const a = tempDir();
    const b = tempDir();
    writeFileSync(join(a, 'ETHUSDT-1m-2022-08-14.csv'), '');
    writeFileSync(join(b, 'ETHUSDT-1m-2022-08-15.csv'), '');
    const found = await findReplayFiles([join(a, 'ETHUSDT-1m-2022-08-14.csv'), b]);
    expect(found.files.map((f) => f.periodStartMs)).toEqual([Date.UTC(2022, 7, 14), Date.UTC(2022, 7, 15)]);
  });

  it('says clearly what is wrong with the paths', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.csv'), '');
    await expect(findReplayFiles([join(dir, 'missing')])).rejects.toThrow(
      /replay path .*missing cannot be read/,
    );
    await expect(findReplayFiles([join(dir, 'notes.csv')])).rejects.toThrow(
      /notes\.csv is not named like a Binance public-data file/,
    );
    await expect(findReplayFiles([dir])).rejects.toThrow(ReplayError);
    await expect(findReplayFiles([])).rejects.toThrow('no replay files given');
  });

  it('refuses two files of one stream that cover the same time', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ETHUSDT-1m-2022-08.csv'), '');
    writeFileSync(join(dir, 'ETHUSDT-1m-2022-08-14.csv'), '');
    await expect(findReplayFiles([dir])).rejects.toThrow(
      /ETHUSDT-1m-2022-08\.csv and .*ETHUSDT-1m-2022-08-14\.csv cover the same time/,
    );
  });
});
