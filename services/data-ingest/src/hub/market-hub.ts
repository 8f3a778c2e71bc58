import type { Candle } from '@visualgo/market';
import type { PublishedEvent } from './published-event.js';

export type FeedStatusKind = 'connected' | 'disconnected' | 'gap-detected' | 'gap-filled' | 'gap-unfilled';

export interface FeedStatusEvent {
  readonly kind: FeedStatusKind;
  /** Empty when it concerns the whole upstream connection. */
  readonly stream: string;
  readonly fromOpenTimeMs?: number;
  readonly toOpenTimeMs?: number;
  /** For gaps of a trade stream: the missing trade ids. */
  readonly fromTradeId?: number;
  readonly toTradeId?: number;
  readonly detail?: string;
  /** gap-unfilled: the exchange may hold what is missing but did not serve it (a hole in the data). */
  readonly lost?: boolean;
  readonly timeMs: number;
}

export interface StreamDescriptor {
  readonly stream: string;
  readonly kind: 'kline' | 'trade';
  readonly symbol: string;
  /** Kline streams only. */
  readonly interval?: string;
}

export interface CandleQuery {
  readonly startTimeMs?: number;
  readonly endTimeMs?: number;
  /** Default 500, max 1000. */
  readonly limit?: number;
  /** Only what is held in memory: never ask the exchange. */
  readonly heldOnly?: boolean;
}

/**
 * What the edges (gRPC, WebSocket, HTTP) see of ingestion. Closed candles are published
 * exactly once per stream and in open-time order; open-candle updates are published live.
 * Listeners are called synchronously and must not block: each edge queues per subscriber.
 */
export interface MarketHubView {
  readonly exchange: 'binance' | 'binance-sim';
  /** Every stream this service ingests. */
  streams(): readonly StreamDescriptor[];
  hasStream(stream: string): boolean;
  /** Subscribe to all published events; returns an unsubscribe function. */
  subscribe(listener: (event: PublishedEvent) => void): () => void;
  onStatus(listener: (event: FeedStatusEvent) => void): () => void;
  /**
   * Closed candles, oldest first, within the bounds (open time, inclusive), at any depth: what is
   * not held comes from the exchange. Rejects with `HistoryUnavailable` when the exchange fails.
   */
  candles(stream: string, query: CandleQuery): Promise<readonly Candle[]>;
  /**
   * Prepares a replay from `sinceOpenTimeMs`: the closed candles after it that are older than the
   * held history are fetched from the exchange and kept when they fit; those that did not fit are
   * returned, oldest first (the rest follow from `closedSince`). Rejects with `ReplayOutOfRange`
   * when that is too far back, and `HistoryUnavailable` when the exchange fails.
   */
  olderThanHeld(stream: string, sinceOpenTimeMs: number): Promise<readonly Candle[]>;
  /** Held closed candles with open time strictly after `sinceOpenTimeMs`, oldest first. */
  closedSince(stream: string, sinceOpenTimeMs: number): readonly Candle[];
  /** Open time from which the held history of a stream is complete; null when nothing is held. */
  coveredFromMs(stream: string): number | null;
  /** The current open candle of a stream, if any. */
  openCandle(stream: string): Candle | undefined;
  /** True once upstream is connected and the initial history is loaded. */
  isReady(): boolean;
  /** True while at least one exchange stream connection is up. */
  isUpstreamConnected(): boolean;
  /** True once the initial history is loaded (or its loading has failed and been reported). */
  isHistoryLoaded(): boolean;
}
