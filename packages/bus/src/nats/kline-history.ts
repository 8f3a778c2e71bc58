import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { type Candle, type ExchangeId, parseStreamName } from '@visualgo/market';
import { HistoryUnavailable, ReplayOutOfRange } from '../bus-errors.js';
import type { ReplaySource } from '../candle-retention.js';
import type { CandleEvent } from '../market-event.js';
import { decodeEvent, MalformedEventError } from './event-codec.js';
import { CANDLE_STREAM, KLINE_STREAM } from './nats-streams.js';
import { candleSubject, klineSubject } from './nats-subjects.js';
import { type RangeQuery, SubjectLog } from './subject-log.js';

/** A closed candle as stored: its candle and its stream sequence number. */
export interface StoredCandle {
  readonly streamSeq: number;
  readonly candle: Candle;
}

export interface KlineHistoryOptions {
  readonly venue: ExchangeId;
  /** Told about stored messages that are not candles of their subject (they are skipped). */
  readonly onMalformed?: (subject: string, reason: string) => void;
}

/**
 * The closed candles of the kline streams, read from the `MD_KLINES` JetStream stream (a
 * {@link SubjectLog}: each stream's candles stored once each, in open-time order), and each kline
 * stream's latest live state from `MD_CANDLES`.
 */
export class KlineHistory implements ReplaySource {
  private readonly log: SubjectLog<Candle>;

  constructor(
    js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: KlineHistoryOptions,
  ) {
    this.log = new SubjectLog(
      js,
      jsm,
      KLINE_STREAM,
      (subject, data) => this.decodeClosed(subject, data)?.candle ?? null,
    );
  }

  /**
   * Every stored closed candle of `stream` that opened strictly after `sinceOpenTimeMs`, oldest
   * first, through the newest stored when the read began. `ReplayOutOfRange` when a candle could
   * have opened between that point and the oldest one kept; `HistoryUnavailable` when the store
   * cannot be read.
   */
  async closedSince(
    stream: string,
    sinceOpenTimeMs: number,
    signal?: AbortSignal,
  ): Promise<readonly Candle[]> {
    const id = klineId(stream);
    const subject = klineSubject(this.options.venue, id.symbol, id.interval);
    return this.guard(stream, () => this.log.after(subject, id.interval, sinceOpenTimeMs, signal));
  }

  /**
   * Stored closed candles of `stream` whose open time is within [startTimeMs, endTimeMs], oldest
   * first: the first `limit` from `startTimeMs`, or the last `limit` when `fromEnd`.
   */
  async range(stream: string, query: RangeQuery, signal?: AbortSignal): Promise<readonly Candle[]> {
    const id = klineId(stream);
    const subject = klineSubject(this.options.venue, id.symbol, id.interval);
    return this.guard(stream, () => this.log.range(subject, id.interval, query, signal));
  }

  /** The newest stored closed candle of `stream`, with its stream sequence number. */
  async newest(stream: string): Promise<StoredCandle | null> {
    const id = klineId(stream);
    const subject = klineSubject(this.options.venue, id.symbol, id.interval);
    return this.guard(stream, async () => stored(await this.log.last(subject)));
  }

  /** The oldest stored closed candle of `stream`. */
  async oldest(stream: string): Promise<StoredCandle | null> {
    const id = klineId(stream);
    const subject = klineSubject(this.options.venue, id.symbol, id.interval);
    return this.guard(stream, async () => stored(await this.log.next(subject, 1)));
  }

  /** The latest live state of a kline stream (an open update, or its last stored close). */
  async latestState(stream: string): Promise<CandleEvent | null> {
    const id = klineId(stream);
    const subject = candleSubject(this.options.venue, id.symbol, id.interval);
    return this.guard(stream, async () => {
      const msg = await this.jsm.direct.getMessage(CANDLE_STREAM, { last_by_subj: subject });
      if (!msg) return null;
      try {
        const event = decodeEvent(msg.data);
        if (event.type === 'candle' && event.stream === stream) return event;
        this.options.onMalformed?.(msg.subject, 'not a candle of its stream');
      } catch (err) {
        if (!(err instanceof MalformedEventError)) throw err;
        this.options.onMalformed?.(msg.subject, err.message);
      }
      return null;
    });
  }

  private async guard<T>(stream: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof ReplayOutOfRange || err instanceof HistoryUnavailable) throw err;
      throw new HistoryUnavailable(`${stream}: the candle store could not be read`, { cause: err });
    }
  }

  private decodeClosed(subject: string, data: Uint8Array): CandleEvent | null {
    try {
      const event = decodeEvent(data);
      if (event.type === 'candle' && event.candle.closed) return event;
      this.options.onMalformed?.(subject, 'not a closed candle');
    } catch (err) {
      if (!(err instanceof MalformedEventError)) throw err;
      this.options.onMalformed?.(subject, err.message);
    }
    return null;
  }
}

function stored(record: { readonly streamSeq: number; readonly value: Candle } | null): StoredCandle | null {
  return record ? { streamSeq: record.streamSeq, candle: record.value } : null;
}

function klineId(stream: string) {
  const id = parseStreamName(stream);
  if (id?.kind !== 'kline') throw new RangeError(`${JSON.stringify(stream)} is not a kline stream`);
  return id;
}
