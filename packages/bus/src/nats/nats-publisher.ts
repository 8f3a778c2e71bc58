import type { NatsConnection, Subscription as NatsSubscription } from '@nats-io/nats-core';
import { createInbox } from '@nats-io/nats-core';
import type { ExchangeId } from '@visualgo/market';
import { type CandleEvent, type MarketEvent, statusEvent } from '../market-event.js';
import { encodeEvent } from './event-codec.js';
import type { KlineWriter, StoreOutcome } from './kline-writer.js';
import { candleSubject, eventSubject } from './nats-subjects.js';

/** An entry of the outbox: an event to publish. */
type Entry = { readonly event: MarketEvent };

/** Closed candles stored together before the events behind them go out. */
const MAX_RUN = 4_096;
/** Core messages written before the publisher yields to the event loop. */
const CORE_BATCH = 2_048;

export interface PublisherObserver {
  /** A closed candle the store refused, or one older than what it holds. */
  notStored?(event: CandleEvent, outcome: StoreOutcome): void;
  /** Storing failed for a moment (it is retried). */
  storeRetry?(error: unknown): void;
  /** Events dropped because the outbox was full (the store was unreachable for long). */
  dropped?(type: 'open-candle' | 'trade', count: number): void;
}

export interface NatsPublisherOptions {
  readonly venue: ExchangeId;
  /** Events that may wait in the outbox; past it open-candle updates and trades are dropped. */
  readonly maxPending?: number;
  readonly observer?: PublisherObserver;
}

/**
 * The publishing half of `NatsBus`: an ordered outbox. Events go out in the order given. A run of
 * closed candles is stored first (`KlineWriter`, all streams at once), and only then are they
 * announced on their streams' live subjects, followed by whatever was published after them: so a
 * closed candle reaches live subscribers only once it can also be read back from the store, and a
 * stream's events never overtake each other.
 *
 * `publish` never blocks and never throws. While the store cannot be reached the outbox holds
 * everything (closed candles are never dropped); past `maxPending`, open-candle updates are
 * dropped (the next one supersedes them) and so are trades, which are then reported as a
 * `gap-unfilled` status on their stream with the ids lost.
 */
export class NatsPublisher {
  private queue: Entry[] = [];
  private head = 0;
  private running = false;
  private closed = false;
  private enqueued = 0;
  private handled = 0;
  private statesSent = 0;
  private statesAcked = 0;
  private readonly waiters = new Set<() => void>();
  private readonly maxPending: number;
  private readonly ackInbox: string;
  private readonly acks: NatsSubscription;
  /** Trade ids dropped per trade stream since the last report. */
  private readonly lostTrades = new Map<string, { from: number; to: number }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly writer: KlineWriter,
    private readonly options: NatsPublisherOptions,
  ) {
    this.maxPending = options.maxPending ?? 200_000;
    // Live candle states are also kept by the MD_CANDLES stream, which acknowledges each one to
    // this inbox; counting the acknowledgements lets `settled` wait until they are readable.
    this.ackInbox = createInbox();
    this.acks = nc.subscribe(this.ackInbox, {
      callback: () => {
        this.statesAcked++;
        this.notify();
      },
    });
  }

  /** Events waiting. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  publish(event: MarketEvent): void {
    if (this.closed) return;
    if (this.pending >= this.maxPending) {
      if (event.type === 'candle' && !event.candle.closed) {
        this.options.observer?.dropped?.('open-candle', 1);
        return;
      }
      if (event.type === 'trade') {
        const lost = this.lostTrades.get(event.stream);
        if (lost) lost.to = event.seq;
        else this.lostTrades.set(event.stream, { from: event.seq, to: event.seq });
        this.options.observer?.dropped?.('trade', 1);
        return;
      }
    }
    if (event.type === 'trade') this.reportLostTrades(event.stream);
    this.enqueue({ event });
  }

  /** Resolves once everything published before the call is out (closed candles stored, the rest written). */
  drained(): Promise<void> {
    const target = this.enqueued;
    return this.until(() => this.handled >= target || this.closed);
  }

  /**
   * Resolves once everything published before the call is out: closed candles stored, the rest
   * written to the server, live candle states readable from MD_CANDLES (or `timeoutMs` passed
   * waiting for that last acknowledgement).
   */
  async settled(timeoutMs = 5_000): Promise<void> {
    const target = this.enqueued;
    await this.until(() => this.handled >= target || this.closed);
    if (this.closed) return;
    // Closed candles are acknowledged already; a flush that fails (a lost connection) only means
    // the core messages may not have gone out, which no one can wait for.
    await this.nc.flush().catch(() => {});
    const acks = this.statesSent;
    const deadline = Date.now() + timeoutMs;
    await this.until(() => this.statesAcked >= acks || Date.now() > deadline || this.closed, timeoutMs);
  }

  /** Stops publishing; what is still in the outbox is dropped. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.acks.unsubscribe();
    this.notify();
  }

  private reportLostTrades(stream: string): void {
    const lost = this.lostTrades.get(stream);
    if (!lost) return;
    this.lostTrades.delete(stream);
    this.enqueue({
      event: statusEvent(stream, {
        kind: 'gap-unfilled',
        fromTradeId: lost.from,
        toTradeId: lost.to,
        detail: 'trades dropped: the market bus could not take them',
        timeMs: Date.now(),
      }),
    });
  }

  private enqueue(entry: Entry): void {
    this.queue.push(entry);
    this.enqueued++;
    if (!this.running) {
      this.running = true;
      void this.run();
    }
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed && this.head < this.queue.length) {
        const first = this.queue[this.head] as Entry;
        if (first.event.type === 'candle' && first.event.candle.closed) await this.storeRun();
        else await this.sendCore();
        if (this.head > 4_096 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        this.notify();
      }
    } catch {
      // Only a closing bus stops the writer's retries; what was left is dropped with the outbox.
    } finally {
      this.running = false;
    }
  }

  /** Writes the core events at the head of the outbox, up to the next closed candle. */
  private async sendCore(): Promise<void> {
    let written = 0;
    while (this.head < this.queue.length && !this.closed) {
      const { event } = this.queue[this.head] as Entry;
      if (event.type === 'candle' && event.candle.closed) return;
      this.write(eventSubject(this.options.venue, event), event);
      this.head++;
      this.handled++;
      if (++written >= CORE_BATCH) {
        await new Promise((resolve) => setImmediate(resolve));
        written = 0;
      }
    }
  }

  /** Stores the closed candles at the head of the outbox, then announces them, in order. */
  private async storeRun(): Promise<void> {
    const run: Entry[] = [];
    for (let i = this.head; i < this.queue.length && run.length < MAX_RUN; i++) {
      const entry = this.queue[i] as Entry;
      if (entry.event.type !== 'candle' || !entry.event.candle.closed) break;
      run.push(entry);
    }
    const outcomes = await this.writer.store(
      run.map((e) => e.event as CandleEvent),
      (err) => this.options.observer?.storeRetry?.(err),
    );
    if (this.closed) return;
    for (let i = 0; i < run.length; i++) {
      const { event } = run[i] as Entry;
      const outcome = outcomes[i] as StoreOutcome;
      if (outcome === 'stale' || outcome === 'refused') {
        this.options.observer?.notStored?.(event as CandleEvent, outcome);
      } else {
        const { symbol, interval } = (event as CandleEvent).candle;
        this.write(candleSubject(this.options.venue, symbol, interval), event);
      }
    }
    this.head += run.length;
    this.handled += run.length;
  }

  private write(subject: string, event: MarketEvent): void {
    try {
      if (event.type === 'candle') {
        this.nc.publish(subject, encodeEvent(event), { reply: this.ackInbox });
        this.statesSent++;
      } else {
        this.nc.publish(subject, encodeEvent(event));
      }
    } catch {
      // The connection is closing: the bus is being closed.
    }
  }

  private notify(): void {
    for (const wake of this.waiters) wake();
  }

  private until(done: () => boolean, timeoutMs?: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        this.waiters.delete(check);
        if (timer) clearTimeout(timer);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(check, timeoutMs + 1);
      this.waiters.add(check);
    });
  }
}
