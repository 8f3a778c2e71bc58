import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';

/** What storing a record came to. */
export type StoreOutcome =
  /** Stored now, by this writer. */
  | 'stored'
  /** Already stored (by this writer before, or another producer of the series). */
  | 'present'
  /** Older than the newest stored of its subject: not stored (it would break the order). */
  | 'stale'
  /** Refused by the store for a reason a retry cannot change (logged by the caller). */
  | 'refused';

/** One record to store on its subject, after every record with a smaller order key. */
export interface SequencedRecord {
  readonly subject: string;
  /** Its content's identity, the same from every producer (`Nats-Msg-Id`). */
  readonly msgID: string;
  /** Strictly increasing along a subject (an open time). */
  readonly orderKey: number;
  readonly data: Uint8Array;
}

/** Where the newest stored record of a subject is. */
interface Last {
  readonly streamSeq: number;
  readonly orderKey: number;
}

const NONE: Last = { streamSeq: 0, orderKey: Number.NEGATIVE_INFINITY };

export interface SequencedWriterOptions {
  /** The JetStream stream the subjects belong to. */
  readonly stream: string;
  /** The order key of a stored message, or null when it is not a record. */
  readonly orderKeyOf: (data: Uint8Array) => number | null;
  /** How long to wait for the store's acknowledgement of one record. */
  readonly ackTimeoutMs?: number;
  /** Whether to go on retrying (false once the owner closes). */
  readonly alive: () => boolean;
}

/**
 * Stores records exactly once each and in order per subject, however many producers publish the
 * same records and however late one of them is.
 *
 * Every record carries its content id as `Nats-Msg-Id`: two producers publishing it within the
 * stream's duplicate window (10 minutes) get one copy. Beyond the window (a producer filling a gap
 * long after the other stored it) the id no longer helps, so each publish also states the stream
 * sequence of the newest record the writer believes stored on its subject
 * (`Nats-Expected-Last-Subject-Sequence`): when another producer stored something since, the store
 * refuses, the writer looks at what is there, and either finds its record (or a newer one) already
 * stored, or retries after it. So a subject never holds a record twice nor out of order, which is
 * what lets readers binary-search it (`SubjectLog`).
 */
export class SequencedWriter {
  private readonly last = new Map<string, Last>();
  private readonly ackTimeoutMs: number;
  /** Rejects when the connection has been re-established: answers to what was sent before are lost. */
  private reconnection = interruption();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: SequencedWriterOptions,
  ) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
  }

  /**
   * The connection to NATS was re-established: publishes waiting for an acknowledgement will not
   * get one (the server that had them is gone, or forgot the request); they are sent again at once
   * rather than after their timeout. Sending again is safe: same message id, same expectation.
   */
  reconnected(): void {
    const previous = this.reconnection;
    this.reconnection = interruption();
    previous.interrupt();
  }

  /**
   * Stores the records (each subject's in order) and resolves with each one's outcome. Records of
   * one subject are stored one after the other, subjects concurrently. Transient failures (no
   * store answering, a timeout, a lost connection) are retried until they pass or the owner
   * closes; `onRetry` hears of each.
   */
  async store(
    records: readonly SequencedRecord[],
    onRetry?: (error: unknown) => void,
  ): Promise<StoreOutcome[]> {
    const outcomes: StoreOutcome[] = new Array(records.length);
    const bySubject = new Map<string, number[]>();
    for (let i = 0; i < records.length; i++) {
      const { subject } = records[i] as SequencedRecord;
      let list = bySubject.get(subject);
      if (!list) {
        list = [];
        bySubject.set(subject, list);
      }
      list.push(i);
    }
    await Promise.all(
      [...bySubject.values()].map(async (indices) => {
        for (const i of indices) outcomes[i] = await this.storeOne(records[i] as SequencedRecord, onRetry);
      }),
    );
    return outcomes;
  }

  /**
   * Stores a run of one subject's consecutive records (a producer's start-up history) only if it
   * joins what is stored: the first record newer than `after` (the newest stored when the caller
   * looked, null when there was none) is appended only while the store still ends at `after`.
   * Resolves with each record's outcome, or null, storing nothing, when another producer stored on
   * the subject since: the caller looks again (and fetches what lies between) rather than append
   * past a hole that no one could fill later (a writer never stores a record older than the newest).
   */
  async storeJoined(
    records: readonly SequencedRecord[],
    after: { readonly streamSeq: number; readonly orderKey: number } | null,
    onRetry?: (error: unknown) => void,
  ): Promise<StoreOutcome[] | null> {
    const outcomes: StoreOutcome[] = [];
    let i = 0;
    const floor = after?.orderKey ?? Number.NEGATIVE_INFINITY;
    for (; i < records.length && (records[i] as SequencedRecord).orderKey <= floor; i++)
      outcomes.push((records[i] as SequencedRecord).orderKey < floor ? 'stale' : 'present');
    const first = records[i];
    if (!first) return outcomes;
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = await Promise.race([
          this.js.publish(first.subject, first.data, {
            msgID: first.msgID,
            expect: { lastSubjectSequence: after?.streamSeq ?? 0 },
            timeout: this.ackTimeoutMs,
          }),
          this.reconnection.promise,
        ]);
        if (ack.duplicate) {
          // Stored already (by this writer before a lost acknowledgement, or another producer):
          // whether it joined is for the next look to tell.
          this.last.delete(first.subject);
          return null;
        }
        this.last.set(first.subject, { streamSeq: ack.seq, orderKey: first.orderKey });
        outcomes.push('stored');
        break;
      } catch (err) {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) {
          this.last.delete(first.subject);
          return null;
        }
        if (err instanceof JetStreamApiError && err.status !== 503) return [...outcomes, 'refused'];
        if (!this.options.alive()) throw err;
        if (err instanceof ReconnectedError) continue;
        onRetry?.(err);
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
    // The rest follow the first, consecutively: stored once and in order as any run.
    for (const record of records.slice(i + 1)) outcomes.push(await this.storeOne(record, onRetry));
    return outcomes;
  }

  private async storeOne(record: SequencedRecord, onRetry?: (error: unknown) => void): Promise<StoreOutcome> {
    const { subject, orderKey, data, msgID } = record;
    for (let attempt = 0; ; attempt++) {
      try {
        let last = this.last.get(subject);
        if (!last) {
          last = await this.readLast(subject);
          this.last.set(subject, last);
        }
        if (orderKey < last.orderKey) return 'stale';
        if (orderKey === last.orderKey) return 'present';
        const ack = await Promise.race([
          this.js.publish(subject, data, {
            msgID,
            expect: { lastSubjectSequence: last.streamSeq },
            timeout: this.ackTimeoutMs,
          }),
          this.reconnection.promise,
        ]);
        this.last.set(subject, { streamSeq: ack.seq, orderKey });
        return ack.duplicate ? 'present' : 'stored';
      } catch (err) {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) {
          // Another producer stored on this subject since: look again.
          this.last.delete(subject);
          continue;
        }
        if (err instanceof JetStreamApiError && err.status !== 503) return 'refused';
        if (!this.options.alive()) throw err;
        this.last.delete(subject);
        if (err instanceof ReconnectedError) continue;
        onRetry?.(err);
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  private async readLast(subject: string): Promise<Last> {
    const msg = await this.jsm.direct.getMessage(this.options.stream, { last_by_subj: subject });
    if (!msg) return NONE;
    // Not a record (see SubjectLog): anything stored after it is newer.
    const orderKey = this.options.orderKeyOf(msg.data) ?? Number.NEGATIVE_INFINITY;
    return { streamSeq: msg.seq, orderKey };
  }
}

class ReconnectedError extends Error {
  override readonly name = 'ReconnectedError';
}

/** A promise that only ever rejects, when interrupted (raced against pending publishes). */
function interruption(): { readonly promise: Promise<never>; interrupt(): void } {
  let interrupt = () => {};
  const promise = new Promise<never>((_, reject) => {
    interrupt = () => reject(new ReconnectedError('reconnected to NATS'));
  });
  promise.catch(() => {});
  return { promise, interrupt };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
