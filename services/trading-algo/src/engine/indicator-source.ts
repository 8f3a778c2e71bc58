import type { SnapshotMessage, WireIndicatorPoint } from '@visualgo/contracts';
import type { EngineEvent, StreamInfo } from './indicator-engine.js';

/**
 * What the WebSocket and HTTP edges serve indicators from: the engine of this process, or (in a
 * gateway) the output of trading-algo workers elsewhere, taken on NATS as clients want it.
 */
export interface IndicatorSource {
  subscribe(listener: (event: EngineEvent) => void): () => void;
  /** True once the served streams are known; before that, any well-formed stream may still appear. */
  readonly streamsListed: boolean;
  streams(): StreamInfo[];
  info(stream: string): StreamInfo | undefined;
  /** Changes exactly when the stream's final points do (snapshot caching). */
  finalCount(stream: string): number;
  /** The last `limit` final points; null while the stream's history is not at hand (a `history-loaded` event follows). */
  snapshot(stream: string, limit: number): SnapshotMessage | null;
  /** The newest `limit` final points opening at or before `endTimeMs`; null for a stream not served. */
  history(
    stream: string,
    limit: number,
    endTimeMs?: number,
  ): WireIndicatorPoint[] | null | Promise<WireIndicatorPoint[] | null>;
  /**
   * True while `snapshot` returned null because the snapshot is on its way (a worker process
   * asked its front for it): the client waits for it before the stream's live messages. Absent:
   * null always means "no history at hand yet".
   */
  snapshotPending?(stream: string): boolean;
  /** A client wants the stream (its snapshot and live messages); each `retain` is matched by a `release`. */
  retain?(stream: string): void;
  release?(stream: string): void;
}
