import { blockOf } from '../market-model.js';
import { CsvLine, newDecimal } from './csv-line.js';
import { MICROSECONDS_FROM } from './kline-series.js';
import { ReplayFileError } from './replay-error.js';
import type { ReplayFile } from './replay-files.js';
import type { TradeArchive } from './trade-archive.js';

const TRADE_COLUMNS = 'id, price, qty, quote_qty, time, is_buyer_maker, is_best_match';

/** Checks one trade file line by line and feeds the archive's index. */
export class TradeFileScan {
  private readonly csv = new CsvLine();
  private readonly price = newDecimal();
  private readonly quantity = newDecimal();
  private readonly quote = newDecimal();
  private dataLines = 0;
  private unit: boolean | null = null;
  private currentBlock = -1;

  constructor(
    private readonly archive: TradeArchive,
    private readonly file: ReplayFile,
    private readonly shownName: string,
    private readonly fileIndex: number,
  ) {}

  get microseconds(): boolean {
    return this.unit === true;
  }

  line(buf: Buffer, start: number, end: number, offset: number, lineNo: number): void {
    const line = this.csv;
    line.set(buf, start, end);
    const fail = (problem: string): never => {
      throw new ReplayFileError(this.shownName, lineNo, problem);
    };
    if (this.dataLines === 0 && this.unit === null) {
      const c = line.firstByte(0);
      if (c !== -1 && (c < 0x30 || c > 0x39)) {
        if (line.fields !== 6 && line.fields !== 7) {
          fail(`header row has ${line.fields} columns, expected 7 (${TRADE_COLUMNS})`);
        }
        return;
      }
    }
    if (line.fields !== 7 && line.fields !== 6) fail(`${line.fields} columns, expected 7 (${TRADE_COLUMNS})`);
    const scanned = this.archive.scanned;
    const id = line.int(0);
    if (Number.isNaN(id)) fail(`trade id ${JSON.stringify(line.text(0))} is not a non-negative integer`);
    if (id <= scanned.lastId) fail(`trade id ${id} is not above the previous trade's ${scanned.lastId}`);
    if (!line.decimal(1, this.price) || (this.price.int === 0 && this.price.frac === 0)) {
      fail(`price ${JSON.stringify(line.text(1))} is not a positive decimal with at most 8 places`);
    }
    if (!line.decimal(2, this.quantity) || (this.quantity.int === 0 && this.quantity.frac === 0)) {
      fail(`qty ${JSON.stringify(line.text(2))} is not a positive decimal with at most 8 places`);
    }
    if (!line.decimal(3, this.quote)) fail(`quote_qty ${JSON.stringify(line.text(3))} is not a decimal`);
    const raw = line.int(4);
    if (Number.isNaN(raw)) fail(`time ${JSON.stringify(line.text(4))} is not an integer`);
    const micro = raw >= MICROSECONDS_FROM;
    if (this.unit === null) this.unit = micro;
    else if (this.unit !== micro) {
      fail(
        `time ${raw} is in ${micro ? 'microseconds' : 'milliseconds'}, earlier rows in ${this.unit ? 'microseconds' : 'milliseconds'}`,
      );
    }
    const timeMs = Math.floor(raw / (micro ? 1_000 : 1));
    if (timeMs < scanned.lastTimeMs) fail(`time ${raw} is before the previous trade's`);
    if (timeMs < this.file.periodStartMs || timeMs >= this.file.periodEndMs) {
      fail(`time ${new Date(timeMs).toISOString()} is outside the file's period`);
    }
    if (line.bool(5) < 0) fail(`is_buyer_maker ${JSON.stringify(line.text(5))} is not true or false`);
    if (line.fields === 7 && line.bool(6) < 0) {
      fail(`is_best_match ${JSON.stringify(line.text(6))} is not true or false`);
    }
    const block = blockOf(timeMs);
    if (block !== this.currentBlock) {
      if (this.currentBlock >= 0) this.archive.endBlockBytes(this.currentBlock, offset);
      this.currentBlock = block;
    }
    this.archive.recordTrade(this.fileIndex, block, offset, id, this.price, this.quantity);
    scanned.lastId = id;
    scanned.lastTimeMs = timeMs;
    this.dataLines++;
  }

  finish(totalBytes: number): void {
    if (this.dataLines === 0) throw new ReplayFileError(this.shownName, null, 'holds no trades');
    if (this.currentBlock >= 0) this.archive.endBlockBytes(this.currentBlock, totalBytes);
  }
}
