import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Interval } from '@visualgo/market';
import { ReplayError } from './replay-error.js';

export type ReplayFileKind = 'klines' | 'trades';

/** One file of Binance's public data archive (data.binance.vision), by its name. */
export interface ReplayFile {
  /** Absolute path. */
  readonly path: string;
  /** The path as the user gave it (or the folder they gave joined with the file's place in it). */
  readonly name: string;
  /** Upper case: `ETHUSDT`. */
  readonly symbol: string;
  readonly kind: ReplayFileKind;
  /** Kline interval; null for trades. */
  readonly interval: Interval | null;
  /** The day or month the file covers, [start, end) in UTC. */
  readonly periodStartMs: number;
  readonly periodEndMs: number;
  readonly zipped: boolean;
}

/**
 * `<SYMBOL>-<interval>-<YYYY-MM-DD|YYYY-MM>.csv|zip` (klines; the archive writes the monthly
 * interval `1mo` so case-insensitive file systems can tell it from `1m`) and
 * `<SYMBOL>-trades-<date>.csv|zip`.
 */
const FILE_NAME =
  /^([A-Z0-9]{2,20})-(trades|1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1mo|1M)-(\d{4})-(\d{2})(?:-(\d{2}))?\.(csv|zip)$/;

/** Folders are searched this deep (Binance's own layout is data/spot/daily/klines/SYMBOL/1m/). */
const MAX_DEPTH = 8;

export type ParsedFileName = Omit<ReplayFile, 'path' | 'name'>;

/** The meaning of an archive file name, or null when it is not one. */
export function parseReplayFileName(fileName: string): ParsedFileName | null {
  const m = FILE_NAME.exec(fileName);
  if (!m) return null;
  const [, symbol = '', what = '', yearText = '', monthText = '', dayText, extension] = m;
  const year = Number(yearText);
  const month = Number(monthText) - 1;
  const day = dayText === undefined ? null : Number(dayText);
  if (month < 0 || month > 11) return null;
  const start = Date.UTC(year, month, day ?? 1);
  const check = new Date(start);
  if (check.getUTCMonth() !== month || (day !== null && check.getUTCDate() !== day)) return null;
  const end = day === null ? Date.UTC(year, month + 1, 1) : start + 86_400_000;
  const interval: Interval | null = what === 'trades' ? null : what === '1mo' ? '1M' : (what as Interval);
  return {
    symbol,
    kind: what === 'trades' ? 'trades' : 'klines',
    interval,
    periodStartMs: start,
    periodEndMs: end,
    zipped: extension === 'zip',
  };
}

export interface FoundFiles {
  readonly files: readonly ReplayFile[];
  /** Files in the given folders that are not archive data (README, .CHECKSUM, aggTrades...), or duplicates. */
  readonly ignored: readonly string[];
}

/**
 * The archive files under `paths` (files, or folders searched recursively), sorted by symbol,
 * kind, interval and period. A file named explicitly must be an archive file; in folders other
 * files are skipped. A day unzipped beside its zip is read once, from the CSV. Two files of one
 * stream covering the same time (a monthly and a daily file) are an error.
 */
export async function findReplayFiles(paths: readonly string[]): Promise<FoundFiles> {
  if (paths.length === 0) throw new ReplayError('no replay files given');
  const found: ReplayFile[] = [];
  const ignored: string[] = [];
  for (const given of paths) {
    const absolute = resolve(given);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(absolute);
    } catch (err) {
      throw new ReplayError(`replay path ${given} cannot be read (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (info.isDirectory()) {
      await walk(absolute, given, 0, found, ignored);
    } else {
      const parsed = parseReplayFileName(basename(absolute));
      if (!parsed) {
        throw new ReplayError(
          `${given} is not named like a Binance public-data file (<SYMBOL>-<interval>-<date>.csv|zip or <SYMBOL>-trades-<date>.csv|zip)`,
        );
      }
      found.push({ ...parsed, path: absolute, name: given });
    }
  }
  const files = dropDuplicates(found, ignored);
  if (files.length === 0) {
    throw new ReplayError(
      `no Binance public-data files (<SYMBOL>-<interval>-<date>.csv|zip, <SYMBOL>-trades-<date>.csv|zip) in ${paths.join(', ')}`,
    );
  }
  files.sort(
    (a, b) =>
      a.symbol.localeCompare(b.symbol) ||
      a.kind.localeCompare(b.kind) ||
      (a.interval ?? '').localeCompare(b.interval ?? '') ||
      a.periodStartMs - b.periodStartMs ||
      a.periodEndMs - b.periodEndMs,
  );
  for (let i = 1; i < files.length; i++) {
    const a = files[i - 1];
    const b = files[i];
    if (a && b && sameStream(a, b) && b.periodStartMs < a.periodEndMs) {
      throw new ReplayError(`${a.name} and ${b.name} cover the same time; keep one of them`);
    }
  }
  return { files, ignored };
}

function sameStream(a: ParsedFileName, b: ParsedFileName): boolean {
  return a.symbol === b.symbol && a.kind === b.kind && a.interval === b.interval;
}

async function walk(
  dir: string,
  shown: string,
  depth: number,
  found: ReplayFile[],
  ignored: string[],
): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const name = join(shown, entry.name);
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await stat(path)).isDirectory());
    if (isDir) {
      if (depth < MAX_DEPTH && !entry.name.startsWith('.')) await walk(path, name, depth + 1, found, ignored);
      continue;
    }
    const parsed = parseReplayFileName(entry.name);
    if (parsed) found.push({ ...parsed, path, name });
    else ignored.push(name);
  }
}

/** A CSV and the zip it came out of: keep the CSV. */
function dropDuplicates(files: readonly ReplayFile[], ignored: string[]): ReplayFile[] {
  const csvs = new Set(files.filter((f) => !f.zipped).map((f) => f.path.slice(0, -'.csv'.length)));
  return files.filter((f) => {
    if (f.zipped && csvs.has(f.path.slice(0, -'.zip'.length))) {
      ignored.push(`${f.name} (the same data as its unzipped CSV)`);
      return false;
    }
    return true;
  });
}
