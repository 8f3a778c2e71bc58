import type { MarketEvent, MarketEventType } from './market-event.js';

/** Live events a subscriber may have waiting before it is cut off, unless it asks otherwise. */
export const DEFAULT_MAX_QUEUED = 10_000;

export interface SubscribeOptions {
  /** Stream names (`btcusdt@kline_1m`, `btcusdt@trade`; `FEED_STREAM` for feed-wide status). */
  readonly streams: readonly string[];
  /** Event types wanted; default all. Status events come on the streams they concern. */
  readonly types?: readonly MarketEventType[];
  /**
   * Replay the closed candles of the kline streams from this seq on (inclusive), then continue
   * live: one seq for every stream, or one per stream (streams left out start live).
   */
  readonly fromSeq?: number | Readonly<Record<string, number>>;
  /**
   * Replay the closed candles of the kline streams that opened strictly after this time, then
   * continue live. At most one of `fromSeq` and `sinceOpenTimeMs`.
   */
  readonly sinceOpenTimeMs?: number;
  /** Deliver each kline stream's current open candle (its latest update) before going live. */
  readonly withOpenCandle?: boolean;
  /** Aborting ends the iteration cleanly (it returns, without an error). */
  readonly signal?: AbortSignal;
  /** Live events that may wait for this subscriber before it is cut off with `SlowConsumerError`. */
  readonly maxQueued?: number;
}

/**
 * The market-data bus, in the shape nats.js gives its subscriptions: producers `publish`,
 * consumers `subscribe` and iterate. Edges depend on this port, never on an implementation.
 *
 * Guarantees, per subscription and per stream (the contract suite in `./contract` checks them on
 * every implementation):
 * - Closed candles arrive exactly once, in strictly increasing `seq`: the replay from the point
 *   asked, then live, with no gap and no duplicate at the seam. The seam is joined by sequence
 *   numbers: live events are buffered from the moment of subscribing and those the replay already
 *   covered are dropped, however long the replay takes to prepare.
 * - An open candle's updates arrive in order and never after that candle's close; trades arrive
 *   once, in trade-id order; status events in the order published.
 * - Replays cover closed candles (at any depth the implementation can reach; otherwise
 *   `ReplayOutOfRange` or `HistoryUnavailable`, never a silent hole). Trades and status events are
 *   live only.
 * - Each subscriber has a bounded buffer: one that falls `maxQueued` live events behind is ended
 *   with `SlowConsumerError`; publishers and the other subscribers never wait for it.
 * - Aborting `signal`, or leaving the loop, ends the subscription cleanly.
 * - Events are shared, never copied per subscriber, so an edge can keep one encoding per event
 *   and wire form (`WireForm`).
 */
export interface MarketBus {
  /**
   * Publishes one event to every current subscriber of its stream. Never blocks and never throws
   * for a subscriber's sake. Per stream, a producer publishes closed candles in `seq` order.
   */
  publish(event: MarketEvent): void;
  /** Starts a subscription: replay (when asked), then live, until aborted or cut off. */
  subscribe(options: SubscribeOptions): AsyncIterable<MarketEvent>;
}
