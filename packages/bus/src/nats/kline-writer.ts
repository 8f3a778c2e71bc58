import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { ExchangeId } from '@visualgo/market';
import type { CandleEvent } from '../market-event.js';
import { decodeEvent, encodeEvent } from './event-codec.js';
import { KLINE_STREAM } from './nats-streams.js';
import { klineMessageId, klineSubject } from './nats-subjects.js';

/** What storing a closed candle came to. */
export type StoreOutcome =
  /** Stored now, by this writer. */
  | 'stored'
  /** Already stored (by this writer before, or another producer of the stream). */
  | 'present'
  /** Older than the newest stored of its stream: not stored (it would break open-time order). */
  | 'stale'
  /** Refused by the store for a reason a retry cannot change (logged by the caller). */
  | 'refused';

/** Where the newest stored candle of a subject is. */
interface Last {
  readonly streamSeq: number;
  readonly openTimeMs: number;
}

const NONE: Last = { streamSeq: 0, openTimeMs: Number.NEGATIVE_INFINITY };

export interface KlineWriterOptions {
  readonly venue: ExchangeId;
  /** How long to wait for the store's acknowledgement of one candle. */
  readonly ackTimeoutMs?: number;
  /** Whether to go on retrying (false once the bus closes). */
  readonly alive: () => boolean;
}

/**
 * Stores closed candles in `MD_KLINES` exactly once each and in open-time order per kline stream,
 * however many producers publish the same stream and however late one of them is.
 *
 * Every candle carries its content id as `Nats-Msg-Id` (`binance:kline:BTCUSDT:1m:<openTime>`):
 * two producers publishing it within the stream's 10-minute duplicate window get one copy. Beyond
 * the window (a producer filling a gap long after the other stored it) the id no longer helps, so
 * each publish also states the stream sequence of the newest candle it believes stored on its
 * subject (`Nats-Expected-Last-Subject-Sequence`): when another producer stored something since,
 * the store refuses, the writer looks at what is there, and either finds its candle (or a newer
 * one) already stored, or retries after it. So the store never holds a candle twice nor out of
 * order, which is what lets readers binary-search it.
 */
export class KlineWriter {
  private readonly last = new Map<string, Last>();
  private readonly ackTimeoutMs: number;
  /** Rejects when the connection has been re-established: answers to what was sent before are lost. */
  private reconnection = interruption();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: KlineWriterOptions,
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
   * Stores the candles (closed, each of its stream in open-time order) and resolves with each
   * one's outcome. Candles of one stream are stored one after the other, streams concurrently.
   * Transient failures (no store answering, a timeout, a lost connection) are retried until they
   * pass or the bus closes; `onRetry` hears of each.
   */
  async store(events: readonly CandleEvent[], onRetry?: (error: unknown) => void): Promise<StoreOutcome[]> {
    const outcomes: StoreOutcome[] = new Array(events.length);
    const bySubject = new Map<string, number[]>();
    for (let i = 0; i < events.length; i++) {
      const { symbol, interval } = (events[i] as CandleEvent).candle;
      const subject = klineSubject(this.options.venue, symbol, interval);
      let list = bySubject.get(subject);
      if (!list) {
        list = [];
        bySubject.set(subject, list);
      }
      list.push(i);
    }
    await Promise.all(
      [...bySubject].map(async ([subject, indices]) => {
        for (const i of indices)
          outcomes[i] = await this.storeOne(subject, events[i] as CandleEvent, onRetry);
      }),
    );
    return outcomes;
  }

  private async storeOne(
    subject: string,
    event: CandleEvent,
    onRetry?: (error: unknown) => void,
  ): Promise<StoreOutcome> {
    const { openTimeMs } = event.candle;
    const data = encodeEvent(event);
    const msgID = klineMessageId(this.options.venue, event.candle);
    for (let attempt = 0; ; attempt++) {
      try {
        let last = this.last.get(subject);
        if (!last) {
          last = await this.readLast(subject);
          this.last.set(subject, last);
        }
        if (openTimeMs < last.openTimeMs) return 'stale';
        if (openTimeMs === last.openTimeMs) return 'present';
        const ack = await Promise.race([
          this.js.publish(subject, data, {
            msgID,
            expect: { lastSubjectSequence: last.streamSeq },
            timeout: this.ackTimeoutMs,
          }),
          this.reconnection.promise,
        ]);
        this.last.set(subject, { streamSeq: ack.seq, openTimeMs });
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
    const msg = await this.jsm.direct.getMessage(KLINE_STREAM, { last_by_subj: subject });
    if (!msg) return NONE;
    try {
      const event = decodeEvent(msg.data);
      if (event.type === 'candle') return { streamSeq: msg.seq, openTimeMs: event.candle.openTimeMs };
    } catch {
      // Not a candle (see KlineHistory): anything stored after it is newer.
    }
    return { streamSeq: msg.seq, openTimeMs: Number.NEGATIVE_INFINITY };
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
