import {
  type Candle,
  CandleColumns,
  candleIndexOf,
  openTimeOfCandleIndex,
  parseStreamName,
} from '@visualgo/market';
import { ReplayOutOfRange } from './bus-errors.js';

/**
 * Where a bus replays closed candles from: the producer's record of each kline stream (for
 * data-ingest, its candle books and, beyond them, the exchange's REST API).
 */
export interface ReplaySource {
  /**
   * Every closed candle of `stream` that opened strictly after `sinceOpenTimeMs`, oldest first,
   * through the newest one published before the answer: contiguous, no hole. Rejects with
   * `ReplayOutOfRange` when that is further back than it serves and `HistoryUnavailable` when it
   * cannot serve it now.
   */
  closedSince(stream: string, sinceOpenTimeMs: number, signal: AbortSignal): Promise<readonly Candle[]>;
}

/**
 * The closed candles a bus keeps itself when no producer's record backs it: the last `capacity`
 * of each kline stream, compactly ({@link CandleColumns}, about 100 bytes a candle). What it holds
 * is complete from the first candle it kept; a replay from before that is out of range.
 */
export class CandleRetention implements ReplaySource {
  private readonly byStream = new Map<string, CandleColumns>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('retention capacity must be a positive integer');
  }

  /** Keeps a published closed candle; one not newer than the newest kept is ignored. */
  append(stream: string, candle: Candle): void {
    let columns = this.byStream.get(stream);
    if (!columns) {
      const { exchange, symbol, interval } = candle;
      columns = new CandleColumns({ exchange, symbol, interval }, this.capacity);
      this.byStream.set(stream, columns);
    }
    const newest = columns.newestOpenTimeMs;
    if (newest === null || candle.openTimeMs > newest) columns.push(candle);
  }

  async closedSince(stream: string, sinceOpenTimeMs: number): Promise<readonly Candle[]> {
    const columns = this.byStream.get(stream);
    const oldest = columns?.oldestOpenTimeMs ?? null;
    if (!columns || oldest === null) return [];
    const id = parseStreamName(stream);
    // Out of range when a candle could open between the point asked and the oldest kept one.
    const before =
      id?.kind === 'kline' ? openTimeOfCandleIndex(id.interval, candleIndexOf(id.interval, oldest) - 1) : 0;
    if (id?.kind === 'kline' && before > sinceOpenTimeMs) {
      throw new ReplayOutOfRange(
        `${stream} is kept from open time ${oldest}; a replay from after ${sinceOpenTimeMs} reaches further back`,
      );
    }
    return columns.slice(columns.lowerBound(sinceOpenTimeMs + 1));
  }
}
