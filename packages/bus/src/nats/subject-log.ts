import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream';
import { candleIndexOf, type Interval, openTimeOfCandleIndex } from '@visualgo/market';
import { ReplayOutOfRange } from '../bus-errors.js';

/** A stored record and its stream sequence number. */
export interface Stored<T> {
  readonly streamSeq: number;
  readonly value: T;
}

/** Reads shorter than this many records use direct gets; longer ones an ordered consumer. */
const DIRECT_READ_MAX = 32;

/** Thrown for a stored message that is not a record, where skipping it is not possible. */
export class UnreadableRecordError extends Error {
  override readonly name = 'UnreadableRecordError';
}

export interface RangeQuery {
  readonly startTimeMs?: number;
  readonly endTimeMs?: number;
  readonly limit: number;
  /** The last `limit` at or before `endTimeMs`, rather than the first from `startTimeMs`. */
  readonly fromEnd?: boolean;
}

/**
 * Per-subject logs in one JetStream stream, each holding records of one series on a candle grid
 * (closed candles, indicator points), stored once each and in open-time order (`SequencedWriter`
 * guarantees it). That order lets a read find where to start by binary search over stream sequence
 * numbers with "first message of this subject at or after" lookups (a few dozen at most), then
 * read forward: direct gets for a few records, an ordered consumer for many.
 */
export class SubjectLog<T extends { readonly openTimeMs: number }> {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    /** The record in a message, or null (the message is skipped) when it is not one. */
    private readonly decode: (subject: string, data: Uint8Array) => T | null,
  ) {}

  /** The newest record of `subject`. */
  async last(subject: string): Promise<Stored<T> | null> {
    const msg = await this.jsm.direct.getMessage(this.stream, { last_by_subj: subject });
    if (!msg) return null;
    const value = this.decode(msg.subject, msg.data);
    // Only the writer may publish there (see docs/scaling.md on permissions); a bad last message
    // is replaced by the next record the writer stores.
    if (!value)
      throw new UnreadableRecordError(`stored message ${msg.seq} on ${msg.subject} is not a record`);
    return { streamSeq: msg.seq, value };
  }

  /** The first record of `subject` at or after stream sequence `seq` (skipping bad messages). */
  async next(subject: string, seq: number): Promise<Stored<T> | null> {
    for (let at = seq; ; ) {
      const msg: StoredMsg | null = await this.jsm.direct.getMessage(this.stream, {
        seq: at,
        next_by_subj: subject,
      });
      if (!msg) return null;
      const value = this.decode(msg.subject, msg.data);
      if (value) return { streamSeq: msg.seq, value };
      at = msg.seq + 1;
    }
  }

  /**
   * Every record of `subject` that opened strictly after `sinceMs`, oldest first, through the
   * newest when the read began. `ReplayOutOfRange` when a record could have opened between that
   * point and the oldest one kept (on `interval`'s grid).
   */
  async after(subject: string, interval: Interval, sinceMs: number, signal?: AbortSignal): Promise<T[]> {
    const newest = await this.last(subject);
    if (!newest || newest.value.openTimeMs <= sinceMs) return [];
    const oldest = await this.next(subject, 1);
    if (!oldest) return [];
    reaches(subject, interval, sinceMs, oldest);
    const start = await this.firstAfter(subject, sinceMs, oldest, newest);
    if (!start) return [];
    const read = await this.kept(subject, start, await this.read(subject, interval, start, newest, signal));
    // Records right after `sinceMs` dropped out before the read got to them: not a replay any more.
    if (read.oldest) reaches(subject, interval, sinceMs, read.oldest);
    return read.records;
  }

  /**
   * Records of `subject` whose open time is within [startTimeMs, endTimeMs], oldest first: the
   * first `limit` from `startTimeMs`, or the last `limit` when `fromEnd`. Never out of range: what
   * is stored of the range.
   */
  async range(subject: string, interval: Interval, query: RangeQuery, signal?: AbortSignal): Promise<T[]> {
    const start = query.startTimeMs ?? Number.NEGATIVE_INFINITY;
    const end = query.endTimeMs ?? Number.POSITIVE_INFINITY;
    if (query.limit <= 0 || start > end) return [];
    const newest = await this.last(subject);
    const oldest = newest ? await this.next(subject, 1) : null;
    if (!newest || !oldest) return [];
    const readFrom = async (fromTime: number, max?: number) => {
      const from = await this.firstAfter(subject, fromTime - 1, oldest, newest);
      if (!from) return [];
      const stop = (r: T) => r.openTimeMs > end;
      const { records } = await this.kept(
        subject,
        from,
        await this.read(subject, interval, from, newest, signal, stop, max),
      );
      return records.filter((r) => r.openTimeMs >= start && r.openTimeMs <= end);
    };
    if (!query.fromEnd) return (await readFrom(start, query.limit)).slice(0, query.limit);
    // The last `limit` at or before `end`: step back on the grid from there, further while the
    // series had holes there, until enough or the oldest stored.
    const endIndex = candleIndexOf(interval, Math.min(end, newest.value.openTimeMs));
    for (let span = query.limit; ; span *= 2) {
      const fromTime = Math.max(start, openTimeOfCandleIndex(interval, endIndex - span + 1));
      const within = await readFrom(fromTime);
      if (within.length >= query.limit || fromTime <= Math.max(start, oldest.value.openTimeMs))
        return within.slice(-query.limit);
    }
  }

  /**
   * `records`, read from `from` on, less what the read may have missed. The store drops a
   * subject's oldest records (retention) as new ones come, so a read that began at or near the
   * oldest can find the records after its start gone by the time it gets to them: a hole. The
   * oldest record stored once the read is over tells: from it on the read is complete (records
   * are only ever appended), and the ones read before it are left out. `oldest` is that record
   * when the read lost any, else null.
   */
  private async kept(
    subject: string,
    from: Stored<T>,
    records: T[],
  ): Promise<{ records: T[]; oldest: Stored<T> | null }> {
    const oldest = await this.next(subject, 1);
    if (!oldest || oldest.streamSeq <= from.streamSeq) return { records, oldest: null };
    return { records: records.filter((r) => r.openTimeMs >= oldest.value.openTimeMs), oldest };
  }

  /** The first stored record that opened after `since`, given the oldest and newest stored. */
  private async firstAfter(
    subject: string,
    since: number,
    oldest: Stored<T>,
    newest: Stored<T>,
  ): Promise<Stored<T> | null> {
    if (oldest.value.openTimeMs > since) return oldest;
    if (newest.value.openTimeMs <= since) return null;
    let best = newest;
    let lo = oldest.streamSeq + 1;
    let hi = newest.streamSeq - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const probe = await this.next(subject, mid);
      if (!probe || probe.streamSeq >= best.streamSeq) {
        hi = mid - 1;
      } else if (probe.value.openTimeMs > since) {
        best = probe;
        hi = mid - 1;
      } else {
        lo = probe.streamSeq + 1;
      }
    }
    return best;
  }

  /** Records of `subject` from `from` through `until` (stream order), stopping early at `stop`. */
  private async read(
    subject: string,
    interval: Interval,
    from: Stored<T>,
    until: Stored<T>,
    signal?: AbortSignal,
    stop?: (record: T) => boolean,
    /** Stop after this many (when reading from the start). */
    max = Number.POSITIVE_INFINITY,
  ): Promise<T[]> {
    const expected =
      candleIndexOf(interval, until.value.openTimeMs) - candleIndexOf(interval, from.value.openTimeMs) + 1;
    const out: T[] = [];
    const keep = (record: T): boolean => {
      if (stop?.(record) || out.length >= max) return false;
      // The log is in open-time order; anything else (never written by the writer) is skipped.
      const previous = out[out.length - 1];
      if (!previous || record.openTimeMs > previous.openTimeMs) out.push(record);
      return true;
    };
    if (!keep(from.value) || from.streamSeq >= until.streamSeq) return out;
    if (expected <= DIRECT_READ_MAX) {
      let at = from.streamSeq + 1;
      while (at <= until.streamSeq) {
        signal?.throwIfAborted();
        const next = await this.next(subject, at);
        if (!next || next.streamSeq > until.streamSeq || !keep(next.value)) break;
        at = next.streamSeq + 1;
      }
      return out;
    }
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from.streamSeq + 1,
    });
    const messages = await consumer.consume({ max_messages: 1_000 });
    const onAbort = () => void messages.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const msg of messages) {
        const value = this.decode(msg.subject, msg.data);
        if (value && !keep(value)) break;
        if (msg.seq >= until.streamSeq || msg.info.pending === 0) break;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await messages.close();
    }
    signal?.throwIfAborted();
    return out;
  }
}

/** `ReplayOutOfRange` when a record could have opened after `sinceMs` and before `oldest`. */
function reaches<T extends { readonly openTimeMs: number }>(
  subject: string,
  interval: Interval,
  sinceMs: number,
  oldest: Stored<T>,
): void {
  const before = openTimeOfCandleIndex(interval, candleIndexOf(interval, oldest.value.openTimeMs) - 1);
  if (before > sinceMs) {
    throw new ReplayOutOfRange(
      `${subject} is stored from open time ${oldest.value.openTimeMs}; a replay from after ${sinceMs} reaches further back`,
    );
  }
}
