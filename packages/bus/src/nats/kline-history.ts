import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream';
import {
  type Candle,
  candleIndexOf,
  type ExchangeId,
  type Interval,
  openTimeOfCandleIndex,
  parseStreamName,
} from '@visualgo/market';
import { HistoryUnavailable, ReplayOutOfRange } from '../bus-errors.js';
import type { ReplaySource } from '../candle-retention.js';
import type { CandleEvent } from '../market-event.js';
import { decodeEvent, MalformedEventError } from './event-codec.js';
import { CANDLE_STREAM, KLINE_STREAM } from './nats-streams.js';
import { candleSubject, klineSubject } from './nats-subjects.js';

/** A closed candle as stored: its candle and its stream sequence number. */
export interface StoredCandle {
  readonly streamSeq: number;
  readonly candle: Candle;
}

/** Reads shorter than this many candles use direct gets; longer ones an ordered consumer. */
const DIRECT_READ_MAX = 32;

export interface KlineHistoryOptions {
  readonly venue: ExchangeId;
  /** Told about stored messages that are not candles of their subject (they are skipped). */
  readonly onMalformed?: (subject: string, reason: string) => void;
}

/**
 * The closed candles of the kline streams, read from the `MD_KLINES` JetStream stream. Each kline
 * stream's candles are stored in open-time order, once each (the writer guarantees it, see
 * `KlineWriter`), which lets a read find its start by binary search over stream sequence numbers
 * with "first message of this subject at or after" lookups, a few dozen at most, before
 * reading forward.
 */
export class KlineHistory implements ReplaySource {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: KlineHistoryOptions,
  ) {}

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
    return this.guard(stream, async () => {
      const newest = await this.last(subject);
      if (!newest || newest.candle.openTimeMs <= sinceOpenTimeMs) return [];
      const oldest = await this.next(subject, 1);
      if (!oldest) return [];
      const before = openTimeOfCandleIndex(
        id.interval,
        candleIndexOf(id.interval, oldest.candle.openTimeMs) - 1,
      );
      if (before > sinceOpenTimeMs) {
        throw new ReplayOutOfRange(
          `${stream} is stored from open time ${oldest.candle.openTimeMs}; a replay from after ${sinceOpenTimeMs} reaches further back`,
        );
      }
      const start = await this.firstAfter(subject, sinceOpenTimeMs, oldest, newest);
      if (!start) return [];
      return this.read(subject, id.interval, start, newest, signal);
    });
  }

  /**
   * Stored closed candles of `stream` whose open time is within [startTimeMs, endTimeMs], oldest
   * first: the first `limit` from `startTimeMs`, or the last `limit` when `fromEnd`.
   */
  async range(
    stream: string,
    query: {
      readonly startTimeMs?: number;
      readonly endTimeMs?: number;
      readonly limit: number;
      readonly fromEnd?: boolean;
    },
    signal?: AbortSignal,
  ): Promise<readonly Candle[]> {
    const id = klineId(stream);
    const subject = klineSubject(this.options.venue, id.symbol, id.interval);
    const start = query.startTimeMs ?? Number.NEGATIVE_INFINITY;
    const end = query.endTimeMs ?? Number.POSITIVE_INFINITY;
    if (query.limit <= 0 || start > end) return [];
    return this.guard(stream, async () => {
      const newest = await this.last(subject);
      const oldest = newest ? await this.next(subject, 1) : null;
      if (!newest || !oldest) return [];
      const readFrom = async (fromTime: number, max?: number) => {
        const from = await this.firstAfter(subject, fromTime - 1, oldest, newest);
        if (!from) return [];
        const stop = (c: Candle) => c.openTimeMs > end;
        const candles = await this.read(subject, id.interval, from, newest, signal, stop, max);
        return candles.filter((c) => c.openTimeMs >= start && c.openTimeMs <= end);
      };
      if (!query.fromEnd) return (await readFrom(start, query.limit)).slice(0, query.limit);
      // The last `limit` candles at or before `end`: step back on the grid from there, further
      // while the market had holes there, until enough or the oldest stored.
      const endIndex = candleIndexOf(id.interval, Math.min(end, newest.candle.openTimeMs));
      for (let span = query.limit; ; span *= 2) {
        const fromTime = Math.max(start, openTimeOfCandleIndex(id.interval, endIndex - span + 1));
        const within = await readFrom(fromTime);
        if (within.length >= query.limit || fromTime <= Math.max(start, oldest.candle.openTimeMs))
          return within.slice(-query.limit);
      }
    });
  }

  /** The newest stored closed candle of `stream`, with its stream sequence number. */
  async newest(stream: string): Promise<StoredCandle | null> {
    const id = klineId(stream);
    return this.guard(stream, () => this.last(klineSubject(this.options.venue, id.symbol, id.interval)));
  }

  /** The oldest stored closed candle of `stream`. */
  async oldest(stream: string): Promise<StoredCandle | null> {
    const id = klineId(stream);
    return this.guard(stream, () => this.next(klineSubject(this.options.venue, id.symbol, id.interval), 1));
  }

  /** The latest live state of a kline stream (an open update, or its last stored close). */
  async latestState(stream: string): Promise<CandleEvent | null> {
    const id = klineId(stream);
    const subject = candleSubject(this.options.venue, id.symbol, id.interval);
    return this.guard(stream, async () => {
      const msg = await this.jsm.direct.getMessage(CANDLE_STREAM, { last_by_subj: subject });
      if (!msg) return null;
      const event = this.decode(msg, stream);
      return event;
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

  /** The first stored candle that opened after `since`, given the oldest and newest stored. */
  private async firstAfter(
    subject: string,
    since: number,
    oldest: StoredCandle,
    newest: StoredCandle,
  ): Promise<StoredCandle | null> {
    if (oldest.candle.openTimeMs > since) return oldest;
    if (newest.candle.openTimeMs <= since) return null;
    let best = newest;
    let lo = oldest.streamSeq + 1;
    let hi = newest.streamSeq - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const probe = await this.next(subject, mid);
      if (!probe || probe.streamSeq >= best.streamSeq) {
        hi = mid - 1;
      } else if (probe.candle.openTimeMs > since) {
        best = probe;
        hi = mid - 1;
      } else {
        lo = probe.streamSeq + 1;
      }
    }
    return best;
  }

  /** Candles of `subject` from `from` through `until` (stream order), stopping early at `stop`. */
  private async read(
    subject: string,
    interval: Interval,
    from: StoredCandle,
    until: StoredCandle,
    signal?: AbortSignal,
    stop?: (candle: Candle) => boolean,
    /** Stop after this many (when reading from the start). */
    max = Number.POSITIVE_INFINITY,
  ): Promise<Candle[]> {
    const expected =
      candleIndexOf(interval, until.candle.openTimeMs) - candleIndexOf(interval, from.candle.openTimeMs) + 1;
    const out: Candle[] = [];
    const keep = (candle: Candle): boolean => {
      if (stop?.(candle) || out.length >= max) return false;
      // The store is in open-time order; anything else (never written by KlineWriter) is skipped.
      const previous = out[out.length - 1];
      if (!previous || candle.openTimeMs > previous.openTimeMs) out.push(candle);
      return true;
    };
    if (!keep(from.candle) || from.streamSeq >= until.streamSeq) return out;
    if (expected <= DIRECT_READ_MAX) {
      let at = from.streamSeq + 1;
      while (at <= until.streamSeq) {
        signal?.throwIfAborted();
        const next = await this.next(subject, at);
        if (!next || next.streamSeq > until.streamSeq || !keep(next.candle)) break;
        at = next.streamSeq + 1;
      }
      return out;
    }
    const consumer = await this.js.consumers.get(KLINE_STREAM, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from.streamSeq + 1,
    });
    const messages = await consumer.consume({ max_messages: 1_000 });
    const onAbort = () => void messages.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const msg of messages) {
        const event = this.decodeClosed(msg.subject, msg.data);
        if (event && !keep(event.candle)) break;
        if (msg.seq >= until.streamSeq || msg.info.pending === 0) break;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await messages.close();
    }
    signal?.throwIfAborted();
    return out;
  }

  private async last(subject: string): Promise<StoredCandle | null> {
    return this.stored(await this.jsm.direct.getMessage(KLINE_STREAM, { last_by_subj: subject }));
  }

  /** The first stored candle of `subject` at or after stream sequence `seq` (skipping bad messages). */
  private async next(subject: string, seq: number): Promise<StoredCandle | null> {
    for (let at = seq; ; ) {
      const msg = await this.jsm.direct.getMessage(KLINE_STREAM, { seq: at, next_by_subj: subject });
      if (!msg) return null;
      const event = this.decodeClosed(msg.subject, msg.data);
      if (event) return { streamSeq: msg.seq, candle: event.candle };
      at = msg.seq + 1;
    }
  }

  private stored(msg: StoredMsg | null): StoredCandle | null {
    if (!msg) return null;
    const event = this.decodeClosed(msg.subject, msg.data);
    // Only the writer may publish there (see docs/scaling.md on permissions); a bad last message
    // is replaced by the next candle the writer stores.
    if (!event)
      throw new HistoryUnavailable(`stored message ${msg.seq} on ${msg.subject} is not a closed candle`);
    return { streamSeq: msg.seq, candle: event.candle };
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

  private decode(msg: StoredMsg, stream: string): CandleEvent | null {
    try {
      const event = decodeEvent(msg.data);
      if (event.type === 'candle' && event.stream === stream) return event;
      this.options.onMalformed?.(msg.subject, 'not a candle of its stream');
    } catch (err) {
      if (!(err instanceof MalformedEventError)) throw err;
      this.options.onMalformed?.(msg.subject, err.message);
    }
    return null;
  }
}

function klineId(stream: string) {
  const id = parseStreamName(stream);
  if (id?.kind !== 'kline') throw new RangeError(`${JSON.stringify(stream)} is not a kline stream`);
  return id;
}
