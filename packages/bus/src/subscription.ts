import { SlowConsumerError } from './bus-errors.js';
import type { MarketEvent, MarketEventType } from './market-event.js';

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/** Where a subscriber stands in one stream: what it has been given, by sequence number. */
interface Position {
  /** Seq of the last closed candle delivered (or the one before the replay's start). */
  closed: number | null;
  openSeq: number | null;
  openEventTimeMs: number;
  trade: number | null;
}

interface Waiter {
  resolve(result: IteratorResult<MarketEvent>): void;
  reject(reason: unknown): void;
}

/**
 * One subscriber of an in-process bus: a bounded queue of live events and an async iterator over
 * the replay, then the queue.
 *
 * Live events are queued from the moment of subscribing, also while the replay is prepared; at
 * delivery every event passes {@link Subscription.admit}, which drops what the subscriber already
 * has by sequence number. That, not timing, is what makes replay-then-live gapless and free of
 * duplicates. Only live events count against `maxQueued`: a replay is read from its list as the
 * consumer pulls it.
 */
export class Subscription implements AsyncIterableIterator<MarketEvent> {
  private readonly queue: (MarketEvent | undefined)[] = [];
  private head = 0;
  private replay: readonly MarketEvent[] | null = null;
  private replayAt = 0;
  private preparing = false;
  private waiter: Waiter | null = null;
  private failure: Error | null = null;
  private ended = false;
  private readonly positions = new Map<string, Position>();
  private readonly onAbort = () => this.close();

  constructor(
    readonly streams: ReadonlySet<string>,
    private readonly types: ReadonlySet<MarketEventType>,
    private readonly maxQueued: number,
    private readonly detach: (subscription: Subscription) => void,
    private readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Live events waiting. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  wants(type: MarketEventType): boolean {
    return this.types.has(type);
  }

  /**
   * Marks the stream as already delivered up to closed candle `seq` (a replay that starts after
   * it): live candles at or before it are dropped.
   */
  startAfter(stream: string, seq: number): void {
    this.position(stream).closed = seq;
  }

  /** Live events wait until the replay `prepare` resolves to is known, then follow it. */
  replayFrom(prepare: Promise<readonly MarketEvent[]>): void {
    this.preparing = true;
    prepare.then(
      (events) => {
        if (this.ended) return;
        this.preparing = false;
        this.replay = events;
        this.wake();
      },
      (err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** A replay known at once (current open candles only). */
  replayNow(events: readonly MarketEvent[]): void {
    this.replay = events;
  }

  /** Called by the bus with each live event of the subscribed streams and types; never blocks. */
  offer(event: MarketEvent): void {
    if (this.ended) return;
    if (this.waiter && !this.preparing && this.replay === null && this.head === this.queue.length) {
      // The consumer is waiting and has nothing before this event: hand it over directly.
      if (this.admit(event)) {
        const waiter = this.waiter;
        this.waiter = null;
        waiter.resolve({ value: event, done: false });
      }
      return;
    }
    if (this.queue.length - this.head >= this.maxQueued) {
      this.fail(new SlowConsumerError(`subscriber too slow: more than ${this.maxQueued} events queued`));
      return;
    }
    this.queue.push(event);
  }

  /** Ends the subscription with an error: the consumer's next read rejects with it. */
  fail(error: Error): void {
    if (this.ended) return;
    this.finish();
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter) waiter.reject(error);
    else this.failure = error;
  }

  /** Ends the subscription cleanly: iteration returns. */
  close(): void {
    if (this.ended) return;
    this.finish();
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve(DONE);
  }

  next(): Promise<IteratorResult<MarketEvent>> {
    if (this.failure) {
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    if (this.ended) return Promise.resolve(DONE);
    const event = this.take();
    if (event) return Promise.resolve({ value: event, done: false });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<MarketEvent>> {
    this.close();
    this.failure = null;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<MarketEvent> {
    return this;
  }

  private finish(): void {
    this.ended = true;
    this.queue.length = 0;
    this.head = 0;
    this.replay = null;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.detach(this);
  }

  private wake(): void {
    if (!this.waiter) return;
    const event = this.take();
    if (!event) return;
    const waiter = this.waiter;
    this.waiter = null;
    waiter.resolve({ value: event, done: false });
  }

  /** The next event to deliver, if one is ready. */
  private take(): MarketEvent | undefined {
    if (this.preparing) return undefined;
    const replay = this.replay;
    if (replay !== null) {
      while (this.replayAt < replay.length) {
        const event = replay[this.replayAt++] as MarketEvent;
        if (this.admit(event)) return event;
      }
      this.replay = null;
    }
    while (this.head < this.queue.length) {
      const event = this.queue[this.head] as MarketEvent;
      this.queue[this.head] = undefined;
      this.head++;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (this.admit(event)) return event;
    }
    return undefined;
  }

  /** Whether the subscriber still lacks this event (by sequence number); records it if so. */
  private admit(event: MarketEvent): boolean {
    if (event.type === 'status') return true;
    const p = this.position(event.stream);
    if (event.type === 'trade') {
      if (p.trade !== null && event.seq <= p.trade) return false;
      p.trade = event.seq;
      return true;
    }
    if (p.closed !== null && event.seq <= p.closed) return false;
    if (event.candle.closed) {
      p.closed = event.seq;
      return true;
    }
    if (
      p.openSeq !== null &&
      (event.seq < p.openSeq || (event.seq === p.openSeq && event.candle.eventTimeMs <= p.openEventTimeMs))
    ) {
      return false;
    }
    p.openSeq = event.seq;
    p.openEventTimeMs = event.candle.eventTimeMs;
    return true;
  }

  private position(stream: string): Position {
    let p = this.positions.get(stream);
    if (!p) {
      p = { closed: null, openSeq: null, openEventTimeMs: 0, trade: null };
      this.positions.set(stream, p);
    }
    return p;
  }
}
