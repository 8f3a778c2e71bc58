import type { Msg, NatsConnection, Subscription as NatsSubscription } from '@nats-io/nats-core';
import { type ExchangeId, parseStreamName, type StreamId } from '@visualgo/market';
import {
  type CandleEvent,
  candleEvent,
  candleSeq,
  FEED_STREAM,
  type MarketEvent,
  openTimeOfSeq,
  type StatusEvent,
  statusEvent,
  type TradeEvent,
} from '../market-event.js';
import type { Subscription } from '../subscription.js';
import { decodeEvent, MalformedEventError } from './event-codec.js';
import type { KlineHistory } from './kline-history.js';
import { PRODUCER_TTL_MS } from './market-registry.js';
import { liveSubjects } from './nats-subjects.js';
import { StatusMerge } from './status-merge.js';
import type { StreamMark } from './stream-mark.js';

/** Live events held while a recovery reads the store, at most; past it they are let through. */
const MAX_HELD = 100_000;

export interface ChannelHost {
  readonly nc: NatsConnection;
  readonly venue: ExchangeId;
  readonly history: KlineHistory;
  readonly isClosed: boolean;
  /** How long a trade ahead of the next id waits for the ones before it. */
  readonly tradeGapWaitMs: number;
  malformed(subject: string, reason: string): void;
  /** Closed candles a recovery read from the store that live delivery had missed. */
  recovered(stream: string, candles: number): void;
  /** A recovery read failed (it is retried). */
  recoveryFailed(stream: string, error: unknown): void;
  /**
   * Whether this process produces `stream` itself: its subscribers then get the stream from its
   * own publishing only, and no NATS subject of it is taken (see `NatsBusOptions.produced`).
   */
  produces(stream: string): boolean;
  /** Whether a producer named in status events is alive (see `StatusMerge`). */
  sourceAlive(source: string): boolean;
}

/**
 * One stream's live feed in a process: one set of NATS subscriptions however many local
 * subscribers want the stream (a gateway's interest is reference-counted), each message decoded
 * once and the same event object handed to every subscriber.
 *
 * It drops what two producers of a stream both publish, and what arrives late: closed candles and
 * trades by sequence number, open-candle updates by (open time, last trade id, event time). It
 * also makes live closed candles gapless for its subscribers: when one arrives more than one
 * candle after the last (or after a reconnection to NATS, when core messages may have been lost),
 * live events are held while the missing candles are read from the store, then delivered in order.
 * The store is the judge: a hole it does not fill either is the market's own (or one reported
 * unfilled upstream), and delivery goes on.
 */
export class StreamChannel {
  readonly subscribers = new Set<Subscription>();
  private readonly id: StreamId | null;
  /** The stream's data subject (candles or trades) and its status subject, each taken while wanted. */
  private readonly subjects: { readonly data: string | null; readonly status: string };
  private dataSub: NatsSubscription | null = null;
  private statusSub: NatsSubscription | null = null;
  private dataWanters = 0;
  private statusWanters = 0;
  /** Seq of the newest stored candle when the channel opened: where gap checks start from. */
  private baselineSeq: number | null = null;
  /** Trades that arrived ahead of the next id, waiting for the ones before them. */
  private readonly heldTrades = new Map<number, TradeEvent>();
  private tradeTimer: NodeJS.Timeout | null = null;
  private held: { event: MarketEvent; local: boolean }[] | null = null;
  private closed = false;
  /** Produced in this process: served from its own publishing, nothing taken from NATS. */
  private readonly localOnly: boolean;
  private readonly statuses: StatusMerge;

  constructor(
    readonly stream: string,
    private readonly mark: StreamMark,
    private readonly host: ChannelHost,
  ) {
    this.id = stream === FEED_STREAM ? null : parseStreamName(stream);
    this.localOnly = host.produces(stream);
    this.statuses = new StatusMerge(stream, {
      sourceAlive: (source) => host.sourceAlive(source),
      heardWithinMs: PRODUCER_TTL_MS,
      now: Date.now,
    });
    const [first, second] = liveSubjects(host.venue, stream);
    this.subjects =
      second === undefined
        ? { data: null, status: first as string }
        : { data: first as string, status: second };
  }

  /** A subscriber joins: the subjects it needs are taken (once for all subscribers). */
  attach(subscription: Subscription): void {
    this.subscribers.add(subscription);
    if (this.localOnly) return;
    if (this.subjects.data && (subscription.wants('candle') || subscription.wants('trade'))) {
      if (this.dataWanters++ === 0) {
        this.dataSub = this.take(this.subjects.data);
        if (this.id?.kind === 'kline') this.readBaseline();
      }
    }
    if (subscription.wants('status') && this.statusWanters++ === 0)
      this.statusSub = this.take(this.subjects.status);
  }

  /** A subscriber leaves: subjects nobody needs any more are let go. Returns whether any subscriber remains. */
  detach(subscription: Subscription): boolean {
    if (!this.subscribers.delete(subscription)) return this.subscribers.size > 0;
    if (this.localOnly) return this.subscribers.size > 0;
    if (this.subjects.data && (subscription.wants('candle') || subscription.wants('trade'))) {
      if (--this.dataWanters === 0) {
        this.dataSub?.unsubscribe();
        this.dataSub = null;
      }
    }
    if (subscription.wants('status') && --this.statusWanters === 0) {
      this.statusSub?.unsubscribe();
      this.statusSub = null;
    }
    return this.subscribers.size > 0;
  }

  private take(subject: string): NatsSubscription {
    return this.host.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (!err) this.onMessage(msg);
      },
    });
  }

  private readBaseline(): void {
    this.host.history.newest(this.stream).then(
      (stored) => {
        if (stored && this.baselineSeq === null) this.baselineSeq = candleSeq(stored.candle);
      },
      () => {},
    );
  }

  get isKline(): boolean {
    return this.id?.kind === 'kline';
  }

  /** Offers a locally made event (a status about the bus itself) to the subscribers. */
  offerLocal(event: MarketEvent): void {
    this.fanOut(event);
  }

  /** After a reconnection to NATS: core messages may have been lost meanwhile. */
  reconnected(): void {
    if (this.closed) return;
    if (this.isKline && this.dataSub && this.held === null) this.recover(null);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tradeTimer) clearTimeout(this.tradeTimer);
    this.heldTrades.clear();
    this.dataSub?.unsubscribe();
    this.statusSub?.unsubscribe();
    this.dataSub = this.statusSub = null;
    this.held = null;
  }

  private onMessage(msg: Msg): void {
    if (this.closed) return;
    let event: MarketEvent;
    try {
      event = decodeEvent(msg.data);
    } catch (err) {
      this.host.malformed(msg.subject, err instanceof MalformedEventError ? err.message : String(err));
      return;
    }
    // Trade and aggTrade streams of a symbol share their status subject.
    if (event.stream !== this.stream) return;
    this.receive(event, false);
  }

  /**
   * An event from NATS, or (`local`) one this process publishes: that one is in order by
   * construction and may not be stored yet, so it is never taken for a sign of a gap.
   */
  receive(event: MarketEvent, local: boolean): void {
    if (this.closed) return;
    if (this.held !== null) {
      if (this.held.length < MAX_HELD) {
        this.held.push({ event, local });
        return;
      }
      // The store has not answered for long: let live events through rather than fall ever further behind.
      const held = this.held;
      this.held = null;
      for (const e of held) this.receive(e.event, e.local);
    }
    if (!local && event.type === 'candle' && event.candle.closed) {
      const reference = this.mark.closedSeq ?? this.baselineSeq;
      if (reference !== null && event.seq > reference + 1) {
        this.recover(event);
        return;
      }
    }
    if (event.type === 'trade') {
      this.receiveTrade(event);
      return;
    }
    if (event.type === 'status') {
      this.noteDeclaredGap(event);
      const merged = this.statuses.accept(event);
      if (merged) this.fanOut(merged);
      return;
    }
    if (this.mark.accept(event)) this.fanOut(event);
  }

  /** See `NatsBus.reviewSources`. */
  reviewStatus(): void {
    if (this.closed) return;
    const event = this.statuses.review();
    if (event) this.fanOut(event);
  }

  /**
   * Trades in id order, each once. Two producers are rarely in step: one that lags (its outbox
   * waiting on the store, a slower connection) sends trades the other has already sent newer ones
   * of. So a trade ahead of the next id waits, up to `tradeGapWaitMs`, for the ones before it from
   * whichever producer has them; past that, the hole is reported (`gap-unfilled`) and delivery
   * goes on from the trades held.
   */
  private receiveTrade(event: TradeEvent): void {
    const last = this.mark.tradeSeq;
    if (last !== null && event.seq <= last) return;
    if (last === null || event.seq === last + 1) {
      if (this.mark.accept(event)) this.fanOut(event);
      this.drainTrades();
      return;
    }
    this.heldTrades.set(event.seq, event);
    if (this.heldTrades.size > MAX_HELD) this.releaseTrades();
    else this.tradeTimer ??= setTimeout(() => this.releaseTrades(), this.host.tradeGapWaitMs);
  }

  private drainTrades(): void {
    for (let next = (this.mark.tradeSeq ?? 0) + 1; this.heldTrades.has(next); next++) {
      const event = this.heldTrades.get(next) as TradeEvent;
      this.heldTrades.delete(next);
      if (this.mark.accept(event)) this.fanOut(event);
    }
    if (this.heldTrades.size === 0 && this.tradeTimer) {
      clearTimeout(this.tradeTimer);
      this.tradeTimer = null;
    }
  }

  /** Gives up waiting: reports the hole and delivers what is held, in order. */
  private releaseTrades(): void {
    if (this.tradeTimer) clearTimeout(this.tradeTimer);
    this.tradeTimer = null;
    if (this.closed) return;
    const held = [...this.heldTrades.values()].sort((a, b) => a.seq - b.seq);
    this.heldTrades.clear();
    for (const event of held) {
      const last = this.mark.tradeSeq;
      if (last !== null && event.seq <= last) continue;
      if (last !== null && event.seq > last + 1) {
        this.fanOut(
          statusEvent(this.stream, {
            kind: 'gap-unfilled',
            fromTradeId: last + 1,
            toTradeId: event.seq - 1,
            detail: `trades not received from any producer within ${this.host.tradeGapWaitMs} ms`,
            timeMs: Date.now(),
          }),
        );
      }
      if (this.mark.accept(event)) this.fanOut(event);
    }
  }

  /** A producer declared trades lost: nothing waits for them any more. */
  private noteDeclaredGap(event: StatusEvent): void {
    const { status } = event;
    if (status.kind !== 'gap-unfilled' || status.toTradeId === undefined) return;
    const last = this.mark.tradeSeq;
    if (last !== null && last + 1 >= (status.fromTradeId ?? 0) && status.toTradeId > last) {
      this.mark.tradeSeq = status.toTradeId;
      this.drainTrades();
    }
  }

  private fanOut(event: MarketEvent): void {
    for (const subscription of this.subscribers)
      if (subscription.wants(event.type)) subscription.offer(event);
  }

  /**
   * Reads the closed candles after the last delivered from the store and delivers them, holding
   * live events meanwhile; `trigger` (the live candle that showed the gap) follows them.
   */
  private recover(trigger: CandleEvent | null): void {
    const id = this.id;
    if (id?.kind !== 'kline') return;
    this.held = trigger ? [{ event: trigger, local: false }] : [];
    const fromSeq = this.mark.closedSeq ?? this.baselineSeq;
    const attempt = (tries: number) => {
      if (this.closed || this.held === null) return;
      if (fromSeq === null) {
        this.release(trigger);
        return;
      }
      const since = openTimeOfSeq(id.interval, fromSeq);
      // From the oldest stored if the store no longer reaches back that far: what it lacks, no one can fill.
      const read = this.host.history.range(this.stream, {
        startTimeMs: since + 1,
        limit: Number.MAX_SAFE_INTEGER,
      });
      read.then(
        (candles) => {
          if (this.closed || this.held === null) return;
          let delivered = 0;
          for (const candle of candles) {
            const event = candleEvent(this.stream, candle);
            if (this.mark.accept(event)) {
              this.fanOut(event);
              if (!trigger || event.seq < trigger.seq) delivered++;
            }
          }
          if (delivered > 0) this.host.recovered(this.stream, delivered);
          this.release(trigger);
        },
        (err: unknown) => {
          if (this.closed || this.host.isClosed) return;
          this.host.recoveryFailed(this.stream, err);
          setTimeout(() => attempt(tries + 1), Math.min(5_000, 100 * 2 ** Math.min(tries, 6))).unref();
        },
      );
    };
    attempt(0);
  }

  /** Ends a recovery: the gap before `trigger`, if the store did not fill it, is accepted. */
  private release(trigger: CandleEvent | null): void {
    const held = this.held ?? [];
    this.held = null;
    if (trigger && (this.mark.closedSeq === null || this.mark.closedSeq < trigger.seq - 1))
      this.mark.closedSeq = trigger.seq - 1;
    for (const { event, local } of held) this.receive(event, local);
  }
}
