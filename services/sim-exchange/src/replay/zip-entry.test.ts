import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReplayFileError } from './replay-error.js';
import { tempDirs, writeZip } from './replay-fixtures.js';
import { readZipEntry, readZipEntryBuffer, zipEntryChunks } from './zip-entry.js';

const tempDir = tempDirs();
const CSV = `${Array.from({ length: 5_000 }, (_, i) => `${i},1983.55000000,0.10000000`).join('\n')}\n`;

async function streamed(path: string, name: string): Promise<string> {
  const entry = await readZipEntry(path, name);
  const chunks: Buffer[] = [];
  for await (const chunk of zipEntryChunks(path, entry)) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

describe('zip entries', () => {
  it.each([
    ['deflated', {}],
    ['stored', { stored: true }],
    ['ZIP64', { zip64: true }],
  ])('reads the CSV of a %s zip whole and as a stream', async (_kind, options) => {
    const path = join(tempDir(), 'ETHUSDT-trades-2022-08-14.zip');
    writeZip(path, 'ETHUSDT-trades-2022-08-14.csv', CSV, options);
    const entry = await readZipEntry(path, 'x.zip');
    expect(entry).toMatchObject({ name: 'ETHUSDT-trades-2022-08-14.csv', uncompressedSize: CSV.length });
    expect((await readZipEntryBuffer(path, entry)).toString('utf8')).toBe(CSV);
    expect(await streamed(path, 'x.zip')).toBe(CSV);
  });

  it('picks the CSV named like the zip among several entries', async () => {
    const path = join(tempDir(), 'ETHUSDT-1m-2022-08-14.zip');
    writeZip(path, 'ETHUSDT-1m-2022-08-14.csv', 'a,b\n', { others: { 'notes.txt': 'hello' } });
    expect((await readZipEntry(path, 'ETHUSDT-1m-2022-08-14.zip')).name).toBe('ETHUSDT-1m-2022-08-14.csv');
  });

  it('rejects what is not a zip, a zip without the CSV, and corrupt data, naming the file', async () => {
    const dir = tempDir();
    const notZip = join(dir, 'a.zip');
    writeFileSync(notZip, 'plain text, not a zip');
    await expect(readZipEntry(notZip, 'a.zip')).rejects.toThrow('a.zip: not a zip file');
    const wrong = join(dir, 'ETHUSDT-1m-2022-08-14.zip');
    writeZip(wrong, 'one.csv', 'x', { others: { 'two.csv': 'y' } });
    await expect(readZipEntry(wrong, 'ETHUSDT-1m-2022-08-14.zip')).rejects.toThrow(
      'holds 2 files and none is ETHUSDT-1m-2022-08-14.csv',
    );
    const corrupt = join(dir, 'c.zip');
    writeZip(corrupt, 'c.csv', CSV, { stored: true });
    const bytes = readFileSync(corrupt);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff; // inside the stored data
    writeFileSync(corrupt, bytes);
    const entry = await readZipEntry(corrupt, 'c.zip');
    await expect(readZipEntryBuffer(corrupt, entry)).rejects.toThrow(/c\.zip \(c\.csv\): corrupt zip entry/);
    await expect(streamed(corrupt, 'c.zip')).rejects.toThrow(ReplayFileError);
    const cut = join(dir, 'd.zip');
    writeZip(cut, 'd.csv', CSV);
    const whole = readFileSync(cut);
    writeFileSync(cut, Buffer.concat([whole.subarray(0, 200), whole.subarray(whole.length - 200)]));
    await expect(readZipEntry(cut, 'd.zip')).rejects.toThrow(/d\.zip: /);
  });
});
