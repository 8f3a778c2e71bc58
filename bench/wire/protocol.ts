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
  /**
   * The market feeder counts what it sends with a send time in [fromUs, toUs) and reports it
   * (`window`) once toUs has passed.
   */
  | { readonly type: 'window'; readonly fromUs: number; readonly toUs: number }
  /** The market feeder reports the REST requests it answered so far (`rest-stats`). */
  | { readonly type: 'rest-stats' }
  | { readonly type: 'stop' };

/** The market the market feeder runs (`BENCH_MARKET`). */
export interface MarketShape {
  /** Symbols, each with a 1m kline stream and a trade stream. */
  readonly symbols: number;
  readonly tradesPerSecond: number;
  /** Open-candle kline updates per second over all symbols (closing events come on top). */
  readonly klinesPerSecond: number;
  /** Minutes of kline history each symbol has before the feeder started. */
  readonly historyMinutes: number;
}

export type FeederReport =
  | { readonly type: 'listening'; readonly feedUrl: string; readonly restUrl: string }
  /** A consumer connected to the feed, with the streams it asked for. */
  | { readonly type: 'feed'; readonly streams: readonly string[] }
  | { readonly type: 'done'; readonly trades: number; readonly klines: number; readonly lateMs: number }
  | MarketWindowReport
  | { readonly type: 'rest-stats'; readonly requests: number; readonly candles: number };

/** What the market feeder sent with a send time in the window it was given. */
export interface MarketWindowReport {
  readonly type: 'window';
  /** Kline events of open candles. */
  readonly opens: number;
  /** Closing kline events (`x: true`) carrying a send time in the window. */
  readonly closes: number;
  readonly trades: number;
  /** Events no consumer was following when sent (not counted above). */
  readonly unrouted: number;
  /**
   * Closing events of candles the REST API closed first (asked for after their minute ended, before
   * their stream's next update): data-ingest may hold them already, so they are not counted above.
   */
  readonly restCloses: number;
  /** REST requests answered during the window (history fills while measuring). */
  readonly restRequests: number;
  /** The feeder's worst lateness against its schedule during the window (ms). */
  readonly lateMs: number;
}

export interface ClientsOptions {
  readonly url: string;
  readonly clients: number;
  /** How the benchmark reads a frame: a Binance trade (raw or combined) or a trading-algo message. */
  readonly kind: 'trade' | 'indicator';
  /** This many of the clients stop reading once open (slow consumers); they are not counted. */
  readonly stalled?: number;
  /**
   * Indicator clients: follow these trading-algo streams (`?streams=`); unset, every stream (the
   * server's default).
   */
  readonly streams?: readonly string[];
  /** Connections opened at once while connecting. */
  readonly connectConcurrency?: number;
}

export type ClientsCommand =
  | { readonly type: 'stats' }
  /** Forget the latencies recorded so far (after the warm-up); counts stay. */
  | { readonly type: 'reset' }
  /**
   * From now on count and time only indicators whose kline was sent in [fromUs, toUs), closed
   * candles' included; counts and latencies start again from zero.
   */
  | { readonly type: 'window'; readonly fromUs: number; readonly toUs: number }
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
      /** Indicator clients: `snapshot` messages received (one per stream followed, on subscribing). */
      readonly snapshots: number;
      /** Of `received`, closed candles' indicators (counted only in a window). */
      readonly finals: number;
      /** In a window: the worst latency (ms) of each second of it, by send time. */
      readonly worstBySecondMs: readonly number[];
      readonly latency: LatencySummary;
    };
