import { type Interval, intervalCloseTimeMs, intervalNominalMs, intervalOpenTimeMs } from '@visualgo/market';
import { formatScaled } from '../fixed-point.js';
import type { DecimalStrings } from '../market-source.js';
import { CsvLine, compareDecimals, type Decimal8, LineSplitter, newDecimal } from './csv-line.js';
import { ReplayFileError } from './replay-error.js';
import type { ReplayFile } from './replay-files.js';

/** The eight decimal columns of a kline row, in the order kept here. */
export const KLINE_DECIMALS = [
  'open',
  'high',
  'low',
  'close',
  'volume',
  'quoteVolume',
  'takerBuyVolume',
  'takerBuyQuoteVolume',
] as const;
export type KlineDecimal = (typeof KLINE_DECIMALS)[number];
const STRIDE = KLINE_DECIMALS.length;
const OPEN = 0;
const HIGH = 1;
const LOW = 2;
const CLOSE = 3;
const VOLUME = 4;
const QUOTE = 5;
const TAKER_VOLUME = 6;
const TAKER_QUOTE = 7;
/** CSV column of each kept decimal: open_time, open, high, low, close, volume, close_time, quote, count, taker base, taker quote, ignore. */
const CSV_COLUMN = [1, 2, 3, 4, 5, 7, 9, 10] as const;
const KLINE_COLUMNS = 12;
/** Epoch times at or above this are microseconds (in ms it would be the year 5138). */
export const MICROSECONDS_FROM = 1e14;

/** Rows of one file, or of a whole stream once the files are joined. */
interface KlineColumns {
  readonly openTimeMs: Float64Array;
  /** Whole parts, `STRIDE` per row. */
  readonly ints: Float64Array;
  /** First 8 fraction digits, `STRIDE` per row. */
  readonly fracs: Uint32Array;
  readonly trades: Float64Array;
  readonly length: number;
}

/** What a kline file taught about the symbol's number formats. */
export interface KlineDecimalsSeen {
  /** Most fraction digits used by a price. */
  readonly price: number;
  /** Most fraction digits used by a base volume. */
  readonly quantity: number;
}

export interface KlineFile extends KlineColumns {
  readonly file: ReplayFile;
  readonly decimals: KlineDecimalsSeen;
  readonly microseconds: boolean;
}

/**
 * The recorded klines of one symbol and interval, ascending by open time, in typed arrays:
 * about 110 bytes a row (a month of 1m klines is under 5 MB). Decimals are kept exactly as
 * whole and fraction parts (8 places, as the archive writes them), so every value is served
 * back digit for digit.
 */
export class KlineSeries {
  private constructor(
    readonly symbol: string,
    readonly interval: Interval,
    private readonly cols: KlineColumns,
  ) {}

  /** Joins the files of one stream (sorted by period, checked not to overlap by name). */
  static join(symbol: string, interval: Interval, files: readonly KlineFile[]): KlineSeries {
    const length = files.reduce((n, f) => n + f.length, 0);
    const openTimeMs = new Float64Array(length);
    const ints = new Float64Array(length * STRIDE);
    const fracs = new Uint32Array(length * STRIDE);
    const trades = new Float64Array(length);
    let at = 0;
    let previous: KlineFile | null = null;
    for (const f of files) {
      const lastOpen = at > 0 ? (openTimeMs[at - 1] ?? 0) : Number.NEGATIVE_INFINITY;
      if (f.length > 0 && (f.openTimeMs[0] ?? 0) <= lastOpen && previous) {
        throw new ReplayFileError(
          f.file.name,
          null,
          `its first kline (${new Date(f.openTimeMs[0] ?? 0).toISOString()}) is not after the last one of ${previous.file.name}`,
        );
      }
      openTimeMs.set(f.openTimeMs.subarray(0, f.length), at);
      ints.set(f.ints.subarray(0, f.length * STRIDE), at * STRIDE);
      fracs.set(f.fracs.subarray(0, f.length * STRIDE), at * STRIDE);
      trades.set(f.trades.subarray(0, f.length), at);
      at += f.length;
      if (f.length > 0) previous = f;
    }
    return new KlineSeries(symbol, interval, { openTimeMs, ints, fracs, trades, length });
  }

  get length(): number {
    return this.cols.length;
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    const c = this.cols;
    return c.openTimeMs.byteLength + c.ints.byteLength + c.fracs.byteLength + c.trades.byteLength;
  }

  openTimeMs(i: number): number {
    return this.cols.openTimeMs[i] ?? Number.NaN;
  }

  closeTimeMs(i: number): number {
    return intervalCloseTimeMs(this.interval, this.openTimeMs(i));
  }

  trades(i: number): number {
    return this.cols.trades[i] ?? 0;
  }

  /** First row opening at or after `timeMs` (`length` when none). */
  lowerBound(timeMs: number): number {
    const times = this.cols.openTimeMs;
    let lo = 0;
    let hi = this.cols.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((times[mid] ?? 0) < timeMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The row opening exactly at `openTimeMs`, or -1. */
  indexOf(openTimeMs: number): number {
    const i = this.lowerBound(openTimeMs);
    return i < this.cols.length && this.cols.openTimeMs[i] === openTimeMs ? i : -1;
  }

  /** A decimal as an integer count of 1e-8. */
  units(i: number, field: number): bigint {
    const k = i * STRIDE + field;
    return BigInt(this.cols.ints[k] ?? 0) * 100_000_000n + BigInt(this.cols.fracs[k] ?? 0);
  }

  decimal(i: number, field: number): string {
    const k = i * STRIDE + field;
    return `${this.cols.ints[k] ?? 0}.${String(this.cols.fracs[k] ?? 0).padStart(8, '0')}`;
  }

  /** The row's decimals as Binance writes them. */
  values(i: number): DecimalStrings {
    return {
      open: this.decimal(i, OPEN),
      high: this.decimal(i, HIGH),
      low: this.decimal(i, LOW),
      close: this.decimal(i, CLOSE),
      volume: this.decimal(i, VOLUME),
      quoteVolume: this.decimal(i, QUOTE),
      takerBuyVolume: this.decimal(i, TAKER_VOLUME),
      takerBuyQuoteVolume: this.decimal(i, TAKER_QUOTE),
    };
  }
}

/** Field indexes for callers that compute with rows. */
export const KLINE_FIELD = {
  open: OPEN,
  high: HIGH,
  low: LOW,
  close: CLOSE,
  volume: VOLUME,
  quoteVolume: QUOTE,
  takerBuyVolume: TAKER_VOLUME,
  takerBuyQuoteVolume: TAKER_QUOTE,
} as const;

/** `units / 1e8` with 8 places. */
export function formatUnits(units: bigint): string {
  return formatScaled(units, 8);
}

function isHeader(line: CsvLine): boolean {
  const c = line.firstByte(0);
  return c !== -1 && (c < 0x30 || c > 0x39);
}

/**
 * Reads and checks one kline CSV (the archive's 12 columns, with or without a header row, times
 * in ms or µs). Every problem is an error naming the file and line.
 */
export function parseKlineFile(data: Buffer, file: ReplayFile, shownName: string): KlineFile {
  const interval = file.interval;
  if (interval === null) throw new RangeError(`${file.name} is not a kline file`);
  let capacity = 1;
  for (let p = data.indexOf(0x0a); p >= 0; p = data.indexOf(0x0a, p + 1)) capacity++;
  const openTimeMs = new Float64Array(capacity);
  const ints = new Float64Array(capacity * STRIDE);
  const fracs = new Uint32Array(capacity * STRIDE);
  const trades = new Float64Array(capacity);
  const line = new CsvLine();
  const d = KLINE_DECIMALS.map(() => newDecimal());
  let rows = 0;
  let unit: boolean | null = null;
  let priceDecimals = 0;
  let quantityDecimals = 0;
  // Candles longer than a day may open before the file's day or month (a week starting in the
  // previous month); shorter ones lie inside it.
  const checkPeriod = intervalNominalMs(interval) <= 86_400_000;
  const fail = (lineNo: number, problem: string): never => {
    throw new ReplayFileError(shownName, lineNo, problem);
  };
  const splitter = new LineSplitter((buf, start, end, _offset, lineNo) => {
    line.set(buf, start, end);
    if (rows === 0 && unit === null && isHeader(line)) {
      if (line.fields !== KLINE_COLUMNS) {
        fail(lineNo, `header row has ${line.fields} columns, expected ${KLINE_COLUMNS}`);
      }
      return;
    }
    if (line.fields !== KLINE_COLUMNS) {
      fail(
        lineNo,
        `${line.fields} columns, expected ${KLINE_COLUMNS} (open_time, open, high, low, close, volume, close_time, quote_asset_volume, number_of_trades, taker_buy_base_asset_volume, taker_buy_quote_asset_volume, ignore)`,
      );
    }
    const openRaw = line.int(0);
    const closeRaw = line.int(6);
    if (Number.isNaN(openRaw)) fail(lineNo, `open_time ${JSON.stringify(line.text(0))} is not an integer`);
    if (Number.isNaN(closeRaw)) fail(lineNo, `close_time ${JSON.stringify(line.text(6))} is not an integer`);
    const micro = openRaw >= MICROSECONDS_FROM;
    if (unit === null) unit = micro;
    else if (unit !== micro) {
      fail(
        lineNo,
        `open_time ${openRaw} is in ${micro ? 'microseconds' : 'milliseconds'}, earlier rows in ${unit ? 'microseconds' : 'milliseconds'}`,
      );
    }
    const scale = micro ? 1_000 : 1;
    const open = Math.floor(openRaw / scale);
    if (open * scale !== openRaw) fail(lineNo, `open_time ${openRaw} is not a whole millisecond`);
    if (intervalOpenTimeMs(interval, open) !== open) {
      fail(lineNo, `open_time ${new Date(open).toISOString()} is not the start of a ${interval} candle`);
    }
    const expectedClose = intervalCloseTimeMs(interval, open) * scale + (scale - 1);
    if (closeRaw !== expectedClose) {
      fail(lineNo, `close_time ${closeRaw} does not match open_time ${openRaw} (expected ${expectedClose})`);
    }
    if (checkPeriod && (open < file.periodStartMs || open >= file.periodEndMs)) {
      fail(
        lineNo,
        `open_time ${new Date(open).toISOString()} is outside the file's period (${file.periodStartMs === file.periodEndMs - 86_400_000 ? 'day' : 'month'} of ${new Date(file.periodStartMs).toISOString().slice(0, 10)})`,
      );
    }
    if (rows > 0 && open <= (openTimeMs[rows - 1] ?? 0)) {
      fail(lineNo, `open_time ${new Date(open).toISOString()} is not after the previous row's`);
    }
    for (let f = 0; f < STRIDE; f++) {
      const target = d[f] as Decimal8;
      const column = CSV_COLUMN[f] ?? 0;
      if (!line.decimal(column, target)) {
        fail(
          lineNo,
          `${KLINE_DECIMALS[f]} ${JSON.stringify(line.text(column))} is not a non-negative decimal with at most 8 places`,
        );
      }
    }
    const n = line.int(8);
    if (Number.isNaN(n))
      fail(lineNo, `number_of_trades ${JSON.stringify(line.text(8))} is not a non-negative integer`);
    const [o, h, l, c, v, q, tv, tq] = d as [
      Decimal8,
      Decimal8,
      Decimal8,
      Decimal8,
      Decimal8,
      Decimal8,
      Decimal8,
      Decimal8,
    ];
    if (compareDecimals(l, h) > 0) fail(lineNo, `low ${line.text(3)} is above high ${line.text(2)}`);
    if (compareDecimals(o, l) < 0 || compareDecimals(o, h) > 0) {
      fail(lineNo, `open ${line.text(1)} is outside low ${line.text(3)} .. high ${line.text(2)}`);
    }
    if (compareDecimals(c, l) < 0 || compareDecimals(c, h) > 0) {
      fail(lineNo, `close ${line.text(4)} is outside low ${line.text(3)} .. high ${line.text(2)}`);
    }
    if (compareDecimals(tv, v) > 0)
      fail(lineNo, `taker buy volume ${line.text(9)} is above volume ${line.text(5)}`);
    if (compareDecimals(tq, q) > 0) {
      fail(lineNo, `taker buy quote volume ${line.text(10)} is above quote volume ${line.text(7)}`);
    }
    openTimeMs[rows] = open;
    trades[rows] = n;
    for (let f = 0; f < STRIDE; f++) {
      const value = d[f] as Decimal8;
      ints[rows * STRIDE + f] = value.int;
      fracs[rows * STRIDE + f] = value.frac;
    }
    priceDecimals = Math.max(priceDecimals, o.decimals, h.decimals, l.decimals, c.decimals);
    quantityDecimals = Math.max(quantityDecimals, v.decimals, tv.decimals);
    rows++;
  });
  splitter.push(data);
  splitter.end();
  return {
    file,
    openTimeMs,
    ints,
    fracs,
    trades,
    length: rows,
    decimals: { price: priceDecimals, quantity: quantityDecimals },
    microseconds: unit === true,
  };
}
