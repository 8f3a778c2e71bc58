import type { Candle, Trade } from '@visualgo/market';

/**
 * One event as the hub publishes it, to every subscriber at once. Wire forms are computed on
 * first use and then shared, so an event is serialised once however many clients receive it.
 */
export class PublishedEvent {
  private binanceText: string | undefined;
  private combinedText: string | undefined;
  private memos: Map<symbol, unknown> | undefined;

  constructor(
    /** Binance stream name, lower case: `btcusdt@kline_1m`, `btcusdt@trade`. */
    readonly stream: string,
    readonly data:
      | { readonly type: 'candle'; readonly candle: Candle }
      | { readonly type: 'trade'; readonly trade: Trade },
    /** The Binance event payload (`data` of a combined frame), as received or rebuilt for backfilled candles. */
    readonly binancePayload: unknown,
  ) {}

  /** The raw Binance event JSON, as the raw `/ws/<stream>` endpoints and the seed's `/ws` send it. */
  get binanceJson(): string {
    this.binanceText ??= JSON.stringify(this.binancePayload);
    return this.binanceText;
  }

  /** The combined-stream frame `{"stream":...,"data":...}`. */
  get combinedJson(): string {
    this.combinedText ??= `{"stream":${JSON.stringify(this.stream)},"data":${this.binanceJson}}`;
    return this.combinedText;
  }

  /**
   * Caches an edge-specific encoding (e.g. protobuf bytes) on the event, so each edge encodes
   * an event once however many subscribers receive it. `key` identifies the encoding.
   */
  memo<T>(key: symbol, compute: (event: PublishedEvent) => T): T {
    this.memos ??= new Map();
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = compute(this);
    this.memos.set(key, value);
    return value;
  }
}
