/**
 * Test support: small Binance public-data files written to a temporary folder (trades, the
 * klines they make, zips), so tests never need committed fixtures. Not exported by the package.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { type Interval, intervalCloseTimeMs, intervalOpenTimeMs, nextOpenTimeMs } from '@visualgo/market';
import { afterEach } from 'vitest';
import { formatScaled } from '../fixed-point.js';

/** A temporary folder per test, removed after it. */
export function tempDirs(): () => string {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-test-'));
    made.push(dir);
    return dir;
  };
}

/** A trade: price in cents (2 decimals), quantity in 1e-4 (4 decimals), as ETHUSDT trades. */
export interface FixtureTrade {
  readonly id: number;
  readonly priceTicks: number;
  readonly qtyLots: number;
  readonly timeMs: number;
  readonly buyerIsMaker: boolean;
}

/**
 * Deterministic trades from `fromMs` for `minutes`: a few per minute at scattered times, some
 * minutes empty, ids contiguous from `firstId`.
 */
export function makeTrades(fromMs: number, minutes: number, firstId = 5_000_000): FixtureTrade[] {
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const out: FixtureTrade[] = [];
  let price = 198_355;
  for (let m = 0; m < minutes; m++) {
    const n = m % 7 === 3 ? 0 : 2 + Math.floor(rand() * 12);
    const times = Array.from({ length: n }, () => Math.floor(rand() * 60_000)).sort((a, b) => a - b);
    for (const t of times) {
      price = Math.max(100, price + Math.round((rand() - 0.5) * 40));
      out.push({
        id: firstId + out.length,
        priceTicks: price,
        qtyLots: 1 + Math.floor(rand() * 50_000),
        timeMs: fromMs + m * 60_000 + t,
        buyerIsMaker: rand() < 0.5,
      });
    }
  }
  return out;
}

export interface CsvOptions {
  /** Times in microseconds (the archive since 2025). */
  readonly micro?: boolean;
  /** A header row first (newer files). */
  readonly header?: boolean;
  readonly lineEnd?: '\n' | '\r\n';
}

const price = (ticks: number | bigint) => formatScaled(ticks, 2);
const qty = (lots: number | bigint) => formatScaled(lots, 4);
const quote = (units: bigint) => formatScaled(units, 6);

export function tradeCsv(trades: readonly FixtureTrade[], options: CsvOptions = {}): string {
  const lines = trades.map((t) =>
    [
      t.id,
      price(t.priceTicks),
      qty(t.qtyLots),
      quote(BigInt(t.priceTicks) * BigInt(t.qtyLots)),
      options.micro ? t.timeMs * 1000 + (t.id % 1000) : t.timeMs,
      t.buyerIsMaker ? 'True' : 'False',
      'True',
    ].join(','),
  );
  if (options.header) lines.unshift('id,price,qty,quote_qty,time,is_buyer_maker,is_best_match');
  return `${lines.join(options.lineEnd ?? '\n')}\n`;
}

/** The kline rows (as CSV fields) these trades make, one per interval in [fromMs, toMs). */
export function klineRowsFromTrades(
  trades: readonly FixtureTrade[],
  interval: Interval,
  fromMs: number,
  toMs: number,
): string[][] {
  const rows: string[][] = [];
  let last = trades[0]?.priceTicks ?? 100_000;
  let i = 0;
  for (let open = intervalOpenTimeMs(interval, fromMs); open < toMs; open = nextOpenTimeMs(interval, open)) {
    const close = intervalCloseTimeMs(interval, open);
    let o = last;
    let h = last;
    let l = last;
    let n = 0;
    let v = 0n;
    let q = 0n;
    let tv = 0n;
    let tq = 0n;
    while (i < trades.length && (trades[i]?.timeMs ?? 0) < open) i++;
    for (; i < trades.length && (trades[i]?.timeMs ?? 0) <= close; i++) {
      const t = trades[i] as FixtureTrade;
      if (n === 0) {
        o = t.priceTicks;
        h = t.priceTicks;
        l = t.priceTicks;
      }
      h = Math.max(h, t.priceTicks);
      l = Math.min(l, t.priceTicks);
      last = t.priceTicks;
      n++;
      const lots = BigInt(t.qtyLots);
      v += lots;
      q += BigInt(t.priceTicks) * lots;
      if (!t.buyerIsMaker) {
        tv += lots;
        tq += BigInt(t.priceTicks) * lots;
      }
    }
    rows.push([
      String(open),
      price(o),
      price(h),
      price(l),
      price(n === 0 ? o : last),
      qty(v),
      String(close),
      quote(q),
      String(n),
      qty(tv),
      quote(tq),
      '0',
    ]);
  }
  return rows;
}

const KLINE_HEADER =
  'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore';

export function klineCsv(rows: readonly (readonly string[])[], options: CsvOptions = {}): string {
  const lines = rows.map((r) => {
    const fields = [...r];
    if (options.micro) {
      fields[0] = `${fields[0]}000`;
      fields[6] = `${fields[6]}999`;
    }
    return fields.join(',');
  });
  if (options.header) lines.unshift(KLINE_HEADER);
  return `${lines.join(options.lineEnd ?? '\n')}\n`;
}

export interface ZipOptions {
  /** Store instead of deflate. */
  readonly stored?: boolean;
  /** Write ZIP64 records (sizes and offsets in the extra field), as the archive's big files have. */
  readonly zip64?: boolean;
  /** Extra entries besides the CSV. */
  readonly others?: Readonly<Record<string, string>>;
}

/** Writes a zip holding `entryName` (and `others`), as the archive packs its CSVs. */
export function writeZip(path: string, entryName: string, content: string, options: ZipOptions = {}): void {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const entries = [[entryName, content], ...Object.entries(options.others ?? {})] as const;
  for (const [name, text] of entries) {
    const data = Buffer.from(text);
    const packed = options.stored ? data : deflateRawSync(data);
    const crc = crc32(data);
    const nameBytes = Buffer.from(name);
    const z64 = options.zip64 === true;
    const extra = Buffer.alloc(z64 ? 28 : 0);
    if (z64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(data.length), 4);
      extra.writeBigUInt64LE(BigInt(packed.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(z64 ? 45 : 20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(options.stored ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(z64 ? 0xffffffff : packed.length, 18);
    local.writeUInt32LE(z64 ? 0xffffffff : data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(z64 ? 45 : 20, 4);
    central.writeUInt16LE(z64 ? 45 : 20, 6);
    central.writeUInt16LE(options.stored ? 0 : 8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(z64 ? 0xffffffff : packed.length, 20);
    central.writeUInt32LE(z64 ? 0xffffffff : data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(z64 ? 0xffffffff : offset, 42);
    locals.push(local, nameBytes, packed);
    centrals.push(central, nameBytes, extra);
    offset += local.length + nameBytes.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  if (options.zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(entries.length), 24);
    record.writeBigUInt64LE(BigInt(entries.length), 32);
    record.writeBigUInt64LE(BigInt(cd.length), 40);
    record.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(record, locator);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(options.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(options.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(options.zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(options.zip64 ? 0xffffffff : offset, 16);
  writeFileSync(path, Buffer.concat([...locals, cd, ...tail, eocd]));
}
