/**
 * Byte-level reading of the archive's CSV lines: plain comma-separated fields, no quoting, LF or
 * CRLF line ends. Fields are read straight from the bytes, without a string per field, because a
 * month of trades is hundreds of millions of fields.
 */

const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const MAX_FIELDS = 16;
const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const POW10 = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/** A decimal read from a field: `int + frac / 1e8`, and how many fraction digits it really uses. */
export interface Decimal8 {
  int: number;
  /** 0 .. 99 999 999: the first 8 fraction digits. */
  frac: number;
  /** Fraction digits up to the last non-zero one (0 .. 8). */
  decimals: number;
}

export function newDecimal(): Decimal8 {
  return { int: 0, frac: 0, decimals: 0 };
}

/** One line's fields. Reused from line to line. */
export class CsvLine {
  buf: Buffer = Buffer.alloc(0);
  private readonly starts = new Int32Array(MAX_FIELDS);
  private readonly ends = new Int32Array(MAX_FIELDS);
  /** Number of fields; more than MAX_FIELDS reads as MAX_FIELDS + 1. */
  fields = 0;

  /** Points at `buf[start, end)` (the line without its line end) and splits it. */
  set(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    let n = 0;
    let from = start;
    for (;;) {
      let comma = buf.indexOf(COMMA, from);
      if (comma < 0 || comma > end) comma = end;
      if (n === MAX_FIELDS) {
        this.fields = MAX_FIELDS + 1;
        return;
      }
      this.starts[n] = from;
      this.ends[n] = comma;
      n++;
      if (comma >= end) break;
      from = comma + 1;
    }
    this.fields = n;
  }

  text(i: number): string {
    return this.buf.toString('latin1', this.starts[i] ?? 0, this.ends[i] ?? 0);
  }

  /** First byte of a field (-1 when empty). */
  firstByte(i: number): number {
    const s = this.starts[i] ?? 0;
    return s < (this.ends[i] ?? 0) ? (this.buf[s] ?? -1) : -1;
  }

  /** A non-negative integer of at most 16 digits (exact), else NaN. */
  int(i: number): number {
    const s = this.starts[i] ?? 0;
    const e = this.ends[i] ?? 0;
    if (e <= s || e - s > 16) return Number.NaN;
    let v = 0;
    for (let p = s; p < e; p++) {
      const c = this.buf[p] ?? 0;
      if (c < ZERO || c > NINE) return Number.NaN;
      v = v * 10 + (c - ZERO);
    }
    return v <= Number.MAX_SAFE_INTEGER ? v : Number.NaN;
  }

  /**
   * A non-negative decimal (`123`, `123.45000000`) into `out`; false when the field is not one,
   * has a whole part past 2^53 or non-zero digits past the 8th decimal.
   */
  decimal(i: number, out: Decimal8): boolean {
    const buf = this.buf;
    const s = this.starts[i] ?? 0;
    const e = this.ends[i] ?? 0;
    let p = s;
    let whole = 0;
    while (p < e) {
      const c = buf[p] ?? 0;
      if (c < ZERO || c > NINE) break;
      whole = whole * 10 + (c - ZERO);
      p++;
    }
    if (p === s || p - s > 16 || whole > Number.MAX_SAFE_INTEGER) return false;
    let frac = 0;
    let decimals = 0;
    if (p < e) {
      if (buf[p] !== DOT) return false;
      p++;
      let digit = 0;
      for (; p < e; p++, digit++) {
        const c = buf[p] ?? 0;
        if (c < ZERO || c > NINE) return false;
        if (digit < 8) {
          frac = frac * 10 + (c - ZERO);
          if (c !== ZERO) decimals = digit + 1;
        } else if (c !== ZERO) {
          return false;
        }
      }
      if (digit < 8) frac *= POW10[8 - digit] ?? 1;
    }
    out.int = whole;
    out.frac = frac;
    out.decimals = decimals;
    return true;
  }

  /** `true`/`false` in any case: 1 or 0; -1 when neither. */
  bool(i: number): number {
    const s = this.starts[i] ?? 0;
    const len = (this.ends[i] ?? 0) - s;
    const word = len === 4 ? TRUE : len === 5 ? FALSE : null;
    if (!word) return -1;
    for (let k = 0; k < len; k++) {
      // ASCII letters: setting bit 5 lower-cases them.
      if (((this.buf[s + k] ?? 0) | 0x20) !== word[k]) return -1;
    }
    return len === 4 ? 1 : 0;
  }
}

/** `d.int * 10^decimals + the first `decimals` fraction digits`: a decimal as whole ticks or lots. */
export function scaledUnits(d: Decimal8, decimals: number): number {
  return d.int * (POW10[decimals] ?? 1) + Math.floor(d.frac / (POW10[8 - decimals] ?? 1));
}

/** `a - b` sign for two decimals. */
export function compareDecimals(a: Decimal8, b: Decimal8): number {
  return a.int - b.int || a.frac - b.frac;
}

/**
 * Splits bytes into lines, across chunk boundaries, and reports each with its byte offset in the
 * whole stream and its 1-based number. Empty lines (a trailing newline) are skipped.
 */
export class LineSplitter {
  private carry: Buffer | null = null;
  private carryOffset = 0;
  private offset = 0;
  private lineNo = 0;

  constructor(
    private readonly onLine: (buf: Buffer, start: number, end: number, offset: number, line: number) => void,
  ) {}

  /** Bytes seen so far. */
  get bytes(): number {
    return this.offset;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    let base = this.offset;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      base = this.carryOffset;
      this.carry = null;
    }
    this.offset += chunk.length;
    let start = 0;
    for (;;) {
      const lf = buf.indexOf(LF, start);
      if (lf < 0) break;
      this.emit(buf, start, lf, base);
      start = lf + 1;
    }
    if (start < buf.length) {
      this.carry = buf.subarray(start);
      this.carryOffset = base + start;
    }
  }

  /** The last line, when the data does not end with a newline. */
  end(): void {
    if (this.carry) {
      const buf = this.carry;
      this.carry = null;
      this.emit(buf, 0, buf.length, this.carryOffset);
    }
  }

  private emit(buf: Buffer, start: number, lf: number, base: number): void {
    this.lineNo++;
    const end = lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
    if (end > start) this.onLine(buf, start, end, base + start, this.lineNo);
  }
}
