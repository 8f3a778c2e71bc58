import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { formatStreamName, type Interval, intervalCloseTimeMs } from '@visualgo/market';
import type { MarketSource, SymbolFormat } from '../market-source.js';
import { type SimLogger, silentLogger } from '../sim-logger.js';
import { symbolSpec } from '../symbol-spec.js';
import { type KlineFile, KlineSeries, parseKlineFile } from './kline-series.js';
import { ReplayError, ReplayFileError } from './replay-error.js';
import { findReplayFiles, type ReplayFile } from './replay-files.js';
import { ReplaySource } from './replay-source.js';
import { TradeArchive } from './trade-archive.js';
import { readZipEntry, readZipEntryBuffer } from './zip-entry.js';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

export interface ReplayOptions {
  /** Files or folders (searched recursively) of Binance public data. */
  readonly paths: readonly string[];
  /** Only these symbols (any case); each must have files. Default: every symbol in the files. */
  readonly symbols?: readonly string[];
  /** Where zipped trade files are unpacked while the replay runs. Default: the OS temp folder. */
  readonly tempDir?: string;
  readonly logger?: SimLogger;
}

/** Recorded market data, loaded and checked, ready to be served by `startSimExchange({ replay })`. */
export interface ReplayData {
  readonly kind: 'replay';
  /** The paths it was loaded from. */
  readonly paths: readonly string[];
  /** Upper case, sorted. */
  readonly symbols: readonly string[];
  /** The streams the files have data for: `ethusdt@kline_1m`, `ethusdt@trade`. */
  readonly streams: readonly string[];
  /** The files read. */
  readonly files: readonly string[];
  /** Files in the folders that are not archive data (or duplicates of other files), skipped. */
  readonly ignored: readonly string[];
  /** First instant with data: the first candle's open (or the first trade file's day). */
  readonly firstMs: number;
  /** End of the data: the last candle's close + 1 (or the end of the last trade file's period). */
  readonly endMs: number;
  /**
   * Where a replay starts when no start is given: one day into the data (half way for less than
   * two days), so indicators have history to warm up from.
   */
  readonly defaultStartMs: number;
  /** @internal The markets, by upper-case symbol. */
  readonly sources: ReadonlyMap<string, MarketSource>;
  /** Counts trades read from the files (the exchange's `sim_trades_generated_total`); returns the way to stop. */
  onTradesRead(listener: (count: number) => void): () => void;
  /** Closes the trade files (and frees unpacked copies). */
  close(): void;
}

async function csvOf(file: ReplayFile): Promise<{ data: Buffer; shownName: string }> {
  try {
    if (!file.zipped) return { data: await readFile(file.path), shownName: file.name };
    const entry = await readZipEntry(file.path, file.name);
    return { data: await readZipEntryBuffer(file.path, entry), shownName: `${file.name} (${entry.name})` };
  } catch (err) {
    if (err instanceof ReplayFileError) throw err;
    throw new ReplayFileError(file.name, null, `cannot be read (${(err as Error).message})`, { cause: err });
  }
}

/**
 * Loads Binance public-data files (the layout of data.binance.vision: kline and trade CSVs,
 * plain or zipped, with or without a header row, times in ms or µs). Every line is checked;
 * the first problem is a `ReplayFileError` naming the file and line. Trade files are read as
 * streams and indexed, never held in memory.
 */
export async function loadReplay(options: ReplayOptions): Promise<ReplayData> {
  const log = (options.logger ?? silentLogger).child({ component: 'replay' });
  const started = performance.now();
  const found = await findReplayFiles(options.paths);
  let files = found.files;
  if (options.symbols) {
    const wanted = new Set(options.symbols.map((s) => s.toUpperCase()));
    files = files.filter((f) => wanted.has(f.symbol));
    const missing = [...wanted].filter((s) => !files.some((f) => f.symbol === s));
    if (missing.length > 0) {
      throw new ReplayError(`no replay files for ${missing.join(', ')} in ${options.paths.join(', ')}`);
    }
  }
  const bySymbol = new Map<string, ReplayFile[]>();
  for (const f of files) bySymbol.set(f.symbol, [...(bySymbol.get(f.symbol) ?? []), f]);

  const sources = new Map<string, MarketSource>();
  const archives: TradeArchive[] = [];
  const tradeListeners: ((count: number) => void)[] = [];
  const streams: string[] = [];
  let firstMs = Number.POSITIVE_INFINITY;
  let endMs = Number.NEGATIVE_INFINITY;
  try {
    for (const [symbol, symbolFiles] of bySymbol) {
      const klineFiles = new Map<Interval, KlineFile[]>();
      let priceDecimals = 0;
      let quantityDecimals = 0;
      for (const file of symbolFiles) {
        if (file.kind !== 'klines' || file.interval === null) continue;
        const { data, shownName } = await csvOf(file);
        const parsed = parseKlineFile(data, file, shownName);
        if (parsed.length === 0) throw new ReplayFileError(shownName, null, 'holds no kline rows');
        priceDecimals = Math.max(priceDecimals, parsed.decimals.price);
        quantityDecimals = Math.max(quantityDecimals, parsed.decimals.quantity);
        klineFiles.set(file.interval, [...(klineFiles.get(file.interval) ?? []), parsed]);
      }
      const klines = new Map<Interval, KlineSeries>();
      for (const [interval, parts] of klineFiles) {
        const series = KlineSeries.join(symbol, interval, parts);
        klines.set(interval, series);
        streams.push(formatStreamName({ kind: 'kline', symbol, interval }));
        firstMs = Math.min(firstMs, series.openTimeMs(0));
        endMs = Math.max(endMs, intervalCloseTimeMs(interval, series.openTimeMs(series.length - 1)) + 1);
      }
      const tradeFiles = symbolFiles.filter((f) => f.kind === 'trades');
      let archive: TradeArchive | null = null;
      if (tradeFiles.length > 0) {
        archive = await TradeArchive.load({
          symbol,
          files: tradeFiles,
          tempDir: options.tempDir ?? tmpdir(),
          onTradesRead: (count) => {
            for (const listener of tradeListeners) listener(count);
          },
        });
        archives.push(archive);
        priceDecimals = Math.max(priceDecimals, archive.seen.priceDecimals);
        quantityDecimals = Math.max(quantityDecimals, archive.seen.quantityDecimals);
        streams.push(formatStreamName({ kind: 'trade', symbol }));
        firstMs = Math.min(firstMs, archive.originMs);
        endMs = Math.max(endMs, archive.endMs);
      }
      const names = symbolSpec(symbol);
      const format: SymbolFormat = {
        symbol,
        baseAsset: names.baseAsset,
        quoteAsset: names.quoteAsset,
        tickDecimals: priceDecimals,
        lotDecimals: quantityDecimals,
      };
      archive?.setFormat(priceDecimals, quantityDecimals);
      sources.set(symbol, new ReplaySource(format, klines, archive));
      log.info(
        {
          symbol,
          intervals: [...klines.keys()],
          klineRows: [...klines.values()].reduce((n, s) => n + s.length, 0),
          trades: archive?.seen.trades ?? 0,
          tickDecimals: priceDecimals,
          lotDecimals: quantityDecimals,
        },
        'replay symbol loaded',
      );
    }
  } catch (err) {
    for (const a of archives) a.close();
    throw err;
  }

  const span = endMs - firstMs;
  const lead = Math.min(DAY_MS, Math.floor(span / 2 / MINUTE_MS) * MINUTE_MS);
  const data: ReplayData = {
    kind: 'replay',
    paths: [...options.paths],
    symbols: [...sources.keys()].sort(),
    streams: streams.sort(),
    files: files.map((f) => f.name),
    ignored: found.ignored,
    firstMs,
    endMs,
    defaultStartMs: firstMs + lead,
    sources,
    onTradesRead: (listener) => {
      tradeListeners.push(listener);
      return () => {
        const i = tradeListeners.indexOf(listener);
        if (i >= 0) tradeListeners.splice(i, 1);
      };
    },
    close: () => {
      for (const a of archives) a.close();
    },
  };
  log.info(
    {
      files: files.length,
      ignored: found.ignored.length,
      streams: data.streams,
      from: new Date(firstMs).toISOString(),
      to: new Date(endMs).toISOString(),
      loadMs: Math.round(performance.now() - started),
    },
    'replay data loaded',
  );
  return data;
}

/** True for loaded replay data (as opposed to options to load it from). */
export function isReplayData(value: unknown): value is ReplayData {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'replay';
}
