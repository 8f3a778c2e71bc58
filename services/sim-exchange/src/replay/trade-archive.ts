import {
  closeSync,
  createReadStream,
  mkdtempSync,
  openSync,
  readSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { BlockSource } from '../candle-history.js';
import { BLOCK_MS, type BlockTrades, blockOf, lowerBound, type SimTrade, tradeAt } from '../market-model.js';
import { CsvLine, type Decimal8, LineSplitter, newDecimal, scaledUnits } from './csv-line.js';
import { ReplayFileError } from './replay-error.js';
import type { ReplayFile } from './replay-files.js';
import { TradeFileScan } from './trade-file-scan.js';
import { readZipEntry, zipEntryChunks } from './zip-entry.js';

export interface TradeArchiveOptions {
  /** Upper case. */
  readonly symbol: string;
  /** The symbol's trade files, sorted by period (not overlapping). */
  readonly files: readonly ReplayFile[];
  /** Where zipped files are unpacked for random access. */
  readonly tempDir: string;
  /** Called with the number of trades each time a minute is read from disk (metrics). */
  readonly onTradesRead?: (count: number) => void;
}

/** One file of the archive as read: where its CSV bytes are (the file, or its unpacked copy). */
interface OpenFile {
  readonly file: ReplayFile;
  readonly shownName: string;
  readonly fd: number;
  readonly microseconds: boolean;
}

const CACHE_BLOCKS = 64;
const CHUNK_BYTES = 1024 * 1024;

/**
 * A symbol's recorded trades (`<SYMBOL>-trades-<date>` files), never held whole. Loading reads
 * every file once as a stream, checks every line, and keeps an index per minute: where the
 * minute's lines are, how many trades, the first and last id, the last price (about 50 bytes a
 * minute). A minute's trades are then read back on demand with one positioned read and kept in a
 * small cache; the minute is the block the candle code works in, as with the seeded model.
 *
 * Reads are synchronous (`readSync` of one minute, from the page cache once warm): the exchange
 * emits market time synchronously (the manual clock's `advance()` promises it), so the minute a
 * stream needs must be at hand. Zipped files cannot be read at an offset, so they are unpacked
 * once, while loading, into a temporary file that is unlinked at once (the space goes back when
 * the exchange closes, or the process ends).
 */
export class TradeArchive implements BlockSource {
  readonly symbol: string;
  readonly originBlock: number;
  /** First block after the data. */
  readonly endBlock: number;
  private readonly openFiles: OpenFile[] = [];
  /** Per block (index `block - originBlock`). */
  private readonly count: Uint32Array;
  private readonly fileOf: Uint16Array;
  private readonly byteOffset: Float64Array;
  private readonly byteLength: Float64Array;
  private readonly firstId: Float64Array;
  /** Last trade id up to the end of the block (carried over empty blocks; -1 before the first). */
  private readonly lastIdUpTo: Float64Array;
  /** Price of the last trade up to the end of the block, whole and 1e-8 parts (carried). */
  private readonly lastPriceInt: Float64Array;
  private readonly lastPriceFrac: Uint32Array;
  private readonly covered: { fromMs: number; toMs: number }[] = [];
  private readonly cache = new Map<number, BlockTrades>();
  private readonly onTradesRead: (count: number) => void;
  private readonly tempPaths: string[] = [];
  private firstPrice: { int: number; frac: number } | null = null;
  private tickDecimals = 8;
  private lotDecimals = 8;
  /** @internal The last trade scanned so far (ids and times must rise across files). */
  readonly scanned = { lastId: -1, lastTimeMs: Number.NEGATIVE_INFINITY };
  /** Fraction digits seen, and the largest whole parts, for choosing and checking tick and lot. */
  readonly seen = {
    priceDecimals: 0,
    quantityDecimals: 0,
    maxPriceInt: 0,
    maxQuantityInt: 0,
    trades: 0,
    bytes: 0,
  };

  private constructor(options: TradeArchiveOptions) {
    const first = options.files[0];
    const last = options.files[options.files.length - 1];
    if (!first || !last) throw new RangeError('a trade archive needs files');
    this.symbol = options.symbol;
    this.originBlock = blockOf(first.periodStartMs);
    this.endBlock = blockOf(last.periodEndMs);
    const n = this.endBlock - this.originBlock;
    this.count = new Uint32Array(n);
    this.fileOf = new Uint16Array(n);
    this.byteOffset = new Float64Array(n);
    this.byteLength = new Float64Array(n);
    this.firstId = new Float64Array(n).fill(-1);
    this.lastIdUpTo = new Float64Array(n).fill(-1);
    this.lastPriceInt = new Float64Array(n).fill(-1);
    this.lastPriceFrac = new Uint32Array(n);
    this.onTradesRead = options.onTradesRead ?? (() => {});
    for (const f of options.files) {
      const prev = this.covered[this.covered.length - 1];
      if (prev && prev.toMs === f.periodStartMs) prev.toMs = f.periodEndMs;
      else this.covered.push({ fromMs: f.periodStartMs, toMs: f.periodEndMs });
    }
  }

  /** Reads, checks and indexes the files. Errors name the file and line. */
  static async load(options: TradeArchiveOptions): Promise<TradeArchive> {
    if (options.files.length > 0xffff) throw new RangeError('too many trade files for one symbol');
    const archive = new TradeArchive(options);
    try {
      let tempDir: string | null = null;
      for (const file of options.files) {
        if (file.zipped) tempDir ??= mkdtempSync(join(options.tempDir, 'visualgo-replay-'));
        await archive.scanFile(file, tempDir);
      }
      if (tempDir !== null) archive.removeTempDir(tempDir);
      archive.finishIndex();
      return archive;
    } catch (err) {
      archive.close();
      throw err;
    }
  }

  get originMs(): number {
    return this.originBlock * BLOCK_MS;
  }

  get endMs(): number {
    return this.endBlock * BLOCK_MS;
  }

  get hasTrades(): boolean {
    return this.seen.trades > 0;
  }

  /** Sets the tick and lot the trades are read in; checks that every value stays exact. */
  setFormat(tickDecimals: number, lotDecimals: number): void {
    const fits = (maxInt: number, decimals: number) =>
      (maxInt + 1) * 10 ** decimals <= Number.MAX_SAFE_INTEGER;
    const file = this.openFiles[0]?.shownName ?? this.symbol;
    if (!fits(this.seen.maxPriceInt, tickDecimals) || !fits(this.seen.maxQuantityInt, lotDecimals)) {
      throw new ReplayFileError(file, null, 'prices or quantities too large to replay exactly');
    }
    this.tickDecimals = tickDecimals;
    this.lotDecimals = lotDecimals;
    this.cache.clear();
  }

  /** True when the files cover all of `[fromMs, toMs)` (trades files are whole days or months). */
  covers(fromMs: number, toMs: number): boolean {
    return this.covered.some((c) => c.fromMs <= fromMs && toMs <= c.toMs);
  }

  openRefTicks(block: number): number | null {
    const i = block - this.originBlock;
    if (i < 0 || block >= this.endBlock) return null;
    const j = i - 1;
    if (j >= 0 && (this.lastPriceInt[j] ?? -1) >= 0) {
      return this.ticks(this.lastPriceInt[j] ?? 0, this.lastPriceFrac[j] ?? 0);
    }
    return this.firstPrice ? this.ticks(this.firstPrice.int, this.firstPrice.frac) : 0;
  }

  blockTrades(block: number): BlockTrades | null {
    const i = block - this.originBlock;
    if (i < 0 || block >= this.endBlock) return null;
    const cached = this.cache.get(block);
    if (cached) {
      this.cache.delete(block);
      this.cache.set(block, cached);
      return cached;
    }
    const trades = this.readBlock(block);
    this.cache.set(block, trades);
    if (this.cache.size > CACHE_BLOCKS) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    return trades;
  }

  /** Calls `visit` for every trade with `fromMs <= time < toMs`, in id order. */
  forEachTrade(fromMs: number, toMs: number, visit: (trade: SimTrade) => void): void {
    const start = Math.max(fromMs, this.originMs);
    const end = Math.min(toMs, this.endMs);
    if (end <= start) return;
    for (let block = blockOf(start); block <= blockOf(end - 1); block++) {
      if ((this.count[block - this.originBlock] ?? 0) === 0) continue;
      const trades = this.blockTrades(block);
      if (!trades) continue;
      for (let k = lowerBound(trades.timeMs, trades.count, start); k < trades.count; k++) {
        if ((trades.timeMs[k] ?? 0) >= end) break;
        visit(tradeAt(trades, k));
      }
    }
  }

  trades(fromMs: number, toMs: number, limit: number): SimTrade[] {
    const out: SimTrade[] = [];
    this.forEachTrade(fromMs, toMs, (t) => {
      if (out.length < limit) out.push(t);
    });
    return out;
  }

  /**
   * First and last trade id with `fromMs <= time < toMs`, or null when none traded. Whole
   * minutes come from the index alone, without reading a trade.
   */
  tradeIdRange(fromMs: number, toMs: number): { first: number; last: number } | null {
    const start = Math.max(fromMs, this.originMs);
    const end = Math.min(toMs, this.endMs);
    if (end <= start) return null;
    if (start % BLOCK_MS !== 0 || end % BLOCK_MS !== 0) {
      let first = -1;
      let last = -1;
      this.forEachTrade(start, end, (t) => {
        if (first < 0) first = t.tradeId;
        last = t.tradeId;
      });
      return first < 0 ? null : { first, last };
    }
    const from = blockOf(start) - this.originBlock;
    const to = blockOf(end) - this.originBlock;
    for (let i = from; i < to; i++) {
      if ((this.count[i] ?? 0) > 0)
        return { first: this.firstId[i] ?? -1, last: this.lastIdUpTo[to - 1] ?? -1 };
    }
    return null;
  }

  /** Up to `limit` trades with id >= `fromId` and time < `untilMs`, ascending. */
  tradesFromId(fromId: number, untilMs: number, limit: number): SimTrade[] {
    const out: SimTrade[] = [];
    const lastBlock = Math.min(blockOf(untilMs - 1), this.endBlock - 1);
    // The first block whose trades reach `fromId` (ids rise with time, so this is a bisection).
    let lo = 0;
    let hi = lastBlock - this.originBlock + 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.lastIdUpTo[mid] ?? -1) < fromId) lo = mid + 1;
      else hi = mid;
    }
    for (let block = this.originBlock + lo; block <= lastBlock && out.length < limit; block++) {
      if ((this.count[block - this.originBlock] ?? 0) === 0) continue;
      const trades = this.blockTrades(block);
      if (!trades) continue;
      for (let k = 0; k < trades.count && out.length < limit; k++) {
        if ((trades.timeMs[k] ?? 0) >= untilMs) return out;
        if ((trades.tradeIds?.[k] ?? -1) >= fromId) out.push(tradeAt(trades, k));
      }
    }
    return out;
  }

  /** The `limit` most recent trades with time < `untilMs`, ascending. */
  latestTrades(untilMs: number, limit: number): SimTrade[] {
    const out: SimTrade[] = [];
    for (
      let block = Math.min(blockOf(untilMs - 1), this.endBlock - 1);
      block >= this.originBlock && out.length < limit;
      block--
    ) {
      if ((this.count[block - this.originBlock] ?? 0) === 0) continue;
      const trades = this.blockTrades(block);
      if (!trades) continue;
      for (let k = lowerBound(trades.timeMs, trades.count, untilMs) - 1; k >= 0 && out.length < limit; k--) {
        out.push(tradeAt(trades, k));
      }
    }
    return out.reverse();
  }

  /** Closes the files (and so frees the unpacked copies). */
  close(): void {
    for (const f of this.openFiles.splice(0)) closeSync(f.fd);
    for (const path of this.tempPaths.splice(0)) rmSync(path, { force: true, recursive: true });
    this.cache.clear();
  }

  private ticks(int: number, frac: number): number {
    return scaledUnits({ int, frac, decimals: 0 }, this.tickDecimals);
  }

  private removeTempDir(dir: string): void {
    // Empty once its files are unlinked; where they could not be (open files on Windows) it
    // goes at close().
    try {
      rmdirSync(dir);
    } catch {
      this.tempPaths.push(dir);
    }
  }

  private async scanFile(file: ReplayFile, tempDir: string | null): Promise<void> {
    let shownName = file.name;
    let fd: number;
    let chunks: AsyncIterable<Buffer>;
    let copyTo: number | null = null;
    if (file.zipped && tempDir !== null) {
      const entry = await readZipEntry(file.path, file.name);
      shownName = `${file.name} (${entry.name})`;
      const copy = join(tempDir, `${this.openFiles.length}.csv`);
      fd = openSync(copy, 'w+');
      try {
        unlinkSync(copy);
      } catch {
        this.tempPaths.push(copy);
      }
      copyTo = fd;
      chunks = zipEntryChunks(file.path, entry);
    } else {
      fd = openSync(file.path, 'r');
      chunks = createReadStream(file.path, { highWaterMark: CHUNK_BYTES });
    }
    const index = this.openFiles.length;
    const scan = new TradeFileScan(this, file, shownName, index);
    const splitter = new LineSplitter((buf, start, end, offset, line) =>
      scan.line(buf, start, end, offset, line),
    );
    let micro = false;
    try {
      for await (const chunk of chunks) {
        if (copyTo !== null) writeFully(copyTo, chunk);
        splitter.push(chunk);
      }
      splitter.end();
      scan.finish(splitter.bytes);
      micro = scan.microseconds;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.openFiles.push({ file, shownName, fd, microseconds: micro });
    this.seen.bytes += splitter.bytes;
  }

  /** @internal Called by the scan for each data line. */
  recordTrade(
    fileIndex: number,
    block: number,
    offset: number,
    id: number,
    price: Decimal8,
    quantity: Decimal8,
  ): void {
    const i = block - this.originBlock;
    if ((this.count[i] ?? 0) === 0) {
      this.fileOf[i] = fileIndex;
      this.byteOffset[i] = offset;
      this.firstId[i] = id;
    }
    this.count[i] = (this.count[i] ?? 0) + 1;
    this.lastIdUpTo[i] = id;
    this.lastPriceInt[i] = price.int;
    this.lastPriceFrac[i] = price.frac;
    this.firstPrice ??= { int: price.int, frac: price.frac };
    const seen = this.seen;
    seen.trades++;
    if (price.decimals > seen.priceDecimals) seen.priceDecimals = price.decimals;
    if (quantity.decimals > seen.quantityDecimals) seen.quantityDecimals = quantity.decimals;
    if (price.int > seen.maxPriceInt) seen.maxPriceInt = price.int;
    if (quantity.int > seen.maxQuantityInt) seen.maxQuantityInt = quantity.int;
  }

  /** @internal A block's bytes end where the next block (or the file) starts. */
  endBlockBytes(block: number, endOffset: number): void {
    const i = block - this.originBlock;
    this.byteLength[i] = endOffset - (this.byteOffset[i] ?? 0);
  }

  /** Carries the last id and price over empty blocks. */
  private finishIndex(): void {
    for (let i = 1; i < this.count.length; i++) {
      if ((this.count[i] ?? 0) > 0) continue;
      this.lastIdUpTo[i] = this.lastIdUpTo[i - 1] ?? -1;
      this.lastPriceInt[i] = this.lastPriceInt[i - 1] ?? -1;
      this.lastPriceFrac[i] = this.lastPriceFrac[i - 1] ?? 0;
    }
  }

  private readBlock(block: number): BlockTrades {
    const i = block - this.originBlock;
    const count = this.count[i] ?? 0;
    const timeMs = new Float64Array(count);
    const priceTicks = new Float64Array(count);
    const qtyLots = new Float64Array(count);
    const buyerIsMaker = new Uint8Array(count);
    const tradeIds = new Float64Array(count);
    const result: BlockTrades = {
      block,
      count,
      firstTradeId: this.firstId[i] ?? -1,
      firstAggId: -1,
      timeMs,
      priceTicks,
      qtyLots,
      buyerIsMaker,
      tradeIds,
    };
    if (count === 0) return result;
    const open = this.openFiles[this.fileOf[i] ?? 0];
    if (!open) throw new Error(`trade file of ${this.symbol} is closed`);
    const length = this.byteLength[i] ?? 0;
    const buf = Buffer.allocUnsafe(length);
    let read = 0;
    while (read < length) {
      const n = readSync(open.fd, buf, read, length - read, (this.byteOffset[i] ?? 0) + read);
      if (n === 0) break;
      read += n;
    }
    const line = new CsvLine();
    const price = newDecimal();
    const quantity = newDecimal();
    const scale = open.microseconds ? 1_000 : 1;
    let k = 0;
    const splitter = new LineSplitter((b, start, end) => {
      line.set(b, start, end);
      if (k >= count || !line.decimal(1, price) || !line.decimal(2, quantity)) {
        k = count + 1;
        return;
      }
      tradeIds[k] = line.int(0);
      priceTicks[k] = scaledUnits(price, this.tickDecimals);
      qtyLots[k] = scaledUnits(quantity, this.lotDecimals);
      timeMs[k] = Math.floor(line.int(4) / scale);
      buyerIsMaker[k] = line.bool(5) === 1 ? 1 : 0;
      k++;
    });
    splitter.push(buf.subarray(0, read));
    splitter.end();
    if (k !== count) {
      throw new ReplayFileError(open.shownName, null, 'the file changed on disk since the replay loaded it');
    }
    this.onTradesRead(count);
    return result;
  }
}

function writeFully(fd: number, chunk: Buffer): void {
  let written = 0;
  while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
}
