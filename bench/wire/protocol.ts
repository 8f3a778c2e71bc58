/**
 * Messages between the wire benchmark's orchestrator and its child processes (feeder, relay,
 * clients), over Node's IPC channel. Every child exits when its parent goes away.
 */

/** Wall-clock microseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export type FeederCommand =
  | {
      readonly type: 'run';
      /** Trade frames per second over all symbols. */
      readonly tradesPerSecond: number;
      /** Closed-or-open kline updates per second over all symbols (market-scale runs). */
      readonly klinesPerSecond: number;
      readonly seconds: number;
    }
  | { readonly type: 'stop' };

export type FeederReport =
  | { readonly type: 'listening'; readonly feedUrl: string; readonly restUrl: string }
  /** A consumer connected to the feed, with the streams it asked for. */
  | { readonly type: 'feed'; readonly streams: readonly string[] }
  | { readonly type: 'done'; readonly trades: number; readonly klines: number; readonly lateMs: number };

export interface ClientsOptions {
  readonly url: string;
  readonly clients: number;
  /** How the benchmark reads a frame: a Binance trade (raw or combined) or a trading-algo message. */
  readonly kind: 'trade' | 'indicator';
  /** This many of the clients stop reading once open (slow consumers); they are not counted. */
  readonly stalled?: number;
  /** Connections opened at once while connecting. */
  readonly connectConcurrency?: number;
}

export type ClientsCommand =
  | { readonly type: 'stats' }
  /** Forget the latencies recorded so far (after the warm-up); counts stay. */
  | { readonly type: 'reset' }
  | { readonly type: 'close' };

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export type ClientsReport =
  | { readonly type: 'connected'; readonly open: number; readonly failed: number; readonly ms: number }
  | {
      readonly type: 'stats';
      readonly received: number;
      /** Frames whose trade id was not the one after the previous on that stream for that client. */
      readonly outOfOrder: number;
      /** Clients closed by the server, stalled ones not included. */
      readonly closed: number;
      readonly stalledClosed: number;
      readonly minPerClient: number;
      readonly latency: LatencySummary;
    };
