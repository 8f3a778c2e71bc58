/** The events, options and counters of {@link BinanceStreamClient} (binance-client.ts). */
import type { BinanceAggTradeEvent } from '@visualgo/contracts';
import type { Candle, ExchangeId, Trade } from '@visualgo/market';
import type { BackoffOptions, Logger } from '@visualgo/platform';

/** Kline and trade frames leave the adapter as domain values: Binance's wire format stops here. */
export interface KlineUpdate {
  readonly stream: string;
  readonly candle: Candle;
  readonly connectionId: string;
}
export interface TradeUpdate {
  readonly stream: string;
  readonly trade: Trade;
  readonly connectionId: string;
}
/** Aggregate trades have no domain type (nothing here ingests them): the validated frame. */
export interface AggTradeUpdate {
  readonly stream: string;
  readonly payload: BinanceAggTradeEvent;
  readonly connectionId: string;
}
export interface ConnectedEvent {
  readonly connectionId: string;
  readonly streams: readonly string[];
}
export interface DisconnectedEvent {
  readonly connectionId: string;
  readonly streams: readonly string[];
  readonly reason: string;
  /** True when this side closed it after its replacement took over, or on stop: nothing was missed. */
  readonly planned: boolean;
}
export interface MalformedEvent {
  readonly connectionId: string;
  readonly reason: string;
}

export interface BinanceStreamClientEvents {
  kline: KlineUpdate;
  trade: TradeUpdate;
  aggTrade: AggTradeUpdate;
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  malformed: MalformedEvent;
}

export interface BinanceStreamClientOptions {
  /** `wss://stream.binance.com:9443`, or the simulated exchange's `ws://127.0.0.1:<port>`. */
  readonly wsBaseUrl: string;
  /** Initial streams: `btcusdt@kline_1m`, `btcusdt@trade`, `btcusdt@aggTrade`. */
  readonly streams: readonly string[];
  readonly exchange: ExchangeId;
  readonly logger: Logger;
  /** Default 200; at most Binance's 1024. */
  readonly maxStreamsPerConnection?: number;
  /** Outgoing control messages per connection per second. Default 4 (Binance allows 5, pongs included). */
  readonly maxMessagesPerSecond?: number;
  /** No data frame for this long → reconnect. Default 30 000 (kline streams push every 1-2 s). */
  readonly staleAfterMs?: number;
  readonly backoff?: BackoffOptions;
  /** A connection open this long that delivered data resets the backoff. Default 10 000. */
  readonly healthyAfterMs?: number;
  /** Planned make-before-break rollover before Binance's 24 h cap. Default 23 h. */
  readonly maxConnectionAgeMs?: number;
  /**
   * The rollover age of the connection of shard `index` (in the order shards fill up), when
   * connections should not all roll over together; default {@link maxConnectionAgeMs} for all.
   */
  readonly connectionAgeMsOf?: (shardIndex: number) => number;
  /**
   * Paces connection attempts (first connections, reconnects and switch-overs alike), to stay under
   * the exchange's limit of attempts per IP: each attempt waits for the slot `reserve()` gives.
   */
  readonly connectPacer?: { reserve(): number };
  /** Longest overlap: an open replacement takes over after this even without data. Default 10 000. */
  readonly switchoverTimeoutMs?: number;
  /** Default 10 000. */
  readonly handshakeTimeoutMs?: number;
  /** Wait for the peer's close frame before terminating. Default 1000. */
  readonly closeTimeoutMs?: number;
  /** A (UN)SUBSCRIBE without reply after this is logged as failed. Default 10 000. */
  readonly methodTimeoutMs?: number;
  readonly now?: () => number;
}

export interface BinanceStreamStats {
  readonly messagesByStream: Readonly<Record<string, number>>;
  readonly openConnections: number;
  /** Reconnects after unplanned disconnects or failed attempts. */
  readonly reconnects: number;
  readonly connectFailures: number;
  /** Completed make-before-break switches. */
  readonly switchovers: number;
  readonly staleDisconnects: number;
  readonly malformed: number;
  readonly methodErrors: number;
}
