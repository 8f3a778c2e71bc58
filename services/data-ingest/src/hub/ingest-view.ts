import type { Candle, ExchangeId, StreamId } from '@visualgo/market';
import type { CandleQuery } from './candle-store.js';

/**
 * What the edges (gRPC, WebSocket, HTTP) ask of ingestion besides its events, which they take
 * from the bus (`MarketBus`): the streams served, history ranges, the open candle, readiness.
 */
export interface IngestView {
  readonly exchange: ExchangeId;
  /** Every stream this service ingests, in configuration order. */
  streams(): readonly StreamId[];
  /**
   * Calls `listener` for each stream added to `streams()` from now on; returns how to stop. A
   * view whose streams are fixed at start (a data-ingest hub) need not implement it; a gateway's,
   * which learns streams from the registry, does.
   */
  onStream?(listener: (id: StreamId) => void): () => void;
  hasStream(stream: string): boolean;
  /**
   * Closed candles, oldest first, within the bounds (open time, inclusive), at any depth: what is
   * not held comes from the exchange. Rejects with `HistoryUnavailable` when the exchange fails.
   */
  candles(stream: string, query: CandleQuery): Promise<readonly Candle[]>;
  /**
   * For a view whose history has a floor (a gateway: the JetStream store keeps
   * `NATS_KLINE_HISTORY` closed candles per stream): the open time of the oldest closed candle it
   * can serve, null when it holds none. Absent when history reaches any depth (data-ingest fetches
   * what it does not hold from the exchange).
   */
  oldestKeptOpenTimeMs?(stream: string): Promise<number | null>;
  /** The current open candle of a kline stream, if any. */
  openCandle(stream: string): Candle | undefined;
  /**
   * True once upstream is connected and the initial history is loaded, while every kline stream
   * still accepts events (see `StreamLiveness`).
   */
  isReady(): boolean;
  /** `isReady`, and why not: one sentence per cause. */
  readiness(): { readonly ready: boolean; readonly reasons: readonly string[] };
  /** Kline streams accepting no events although the exchange is connected, with why. */
  stalledStreams(): readonly { readonly stream: string; readonly reason: string }[];
  /** True while at least one exchange stream connection is up. */
  isUpstreamConnected(): boolean;
  /** True once the initial history is loaded (or its loading has failed and been reported). */
  isHistoryLoaded(): boolean;
}
