import {
  type Candle,
  type ExchangeId,
  type Interval,
  intervalCloseTimeMs,
  type Trade,
} from '@visualgo/market';
import type { CandleQuery, FeedStatusEvent, MarketHubView, StreamDescriptor } from './market-hub.js';
import { PublishedEvent } from './published-event.js';

/**
 * An in-memory {@link MarketHubView} for tests of the edges: tests publish events and status
 * changes by hand and seed history directly. History queries follow the hub's contract
 * (Binance semantics: the first `limit` from `startTimeMs`, otherwise the last `limit`).
 */
export class FakeHub implements MarketHubView {
  ready = false;
  private readonly descriptors: StreamDescriptor[];
  private readonly listeners = new Set<(event: PublishedEvent) => void>();
  private readonly statusListeners = new Set<(event: FeedStatusEvent) => void>();
  private readonly closed = new Map<string, Candle[]>();
  private readonly open = new Map<string, Candle>();

  constructor(
    streams: readonly string[],
    readonly exchange: ExchangeId = 'binance-sim',
  ) {
    this.descriptors = streams.map(describeStream);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  streams(): readonly StreamDescriptor[] {
    return this.descriptors;
  }

  hasStream(stream: string): boolean {
    return this.descriptors.some((d) => d.stream === stream);
  }

  subscribe(listener: (event: PublishedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: (event: FeedStatusEvent) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  async candles(stream: string, query: CandleQuery): Promise<readonly Candle[]> {
    const all = this.closed.get(stream) ?? [];
    const limit = Math.min(1000, query.limit && query.limit > 0 ? query.limit : 500);
    const inRange = all.filter(
      (c) =>
        (query.startTimeMs === undefined || c.openTimeMs >= query.startTimeMs) &&
        (query.endTimeMs === undefined || c.openTimeMs <= query.endTimeMs),
    );
    return query.startTimeMs === undefined ? inRange.slice(-limit) : inRange.slice(0, limit);
  }

  /** The fake holds everything it was given. */
  async olderThanHeld(): Promise<readonly Candle[]> {
    return [];
  }

  closedSince(stream: string, sinceOpenTimeMs: number): readonly Candle[] {
    return (this.closed.get(stream) ?? []).filter((c) => c.openTimeMs > sinceOpenTimeMs);
  }

  coveredFromMs(stream: string): number | null {
    return this.closed.get(stream)?.[0]?.openTimeMs ?? null;
  }

  openCandle(stream: string): Candle | undefined {
    return this.open.get(stream);
  }

  isHistoryLoaded(): boolean {
    return this.ready;
  }

  isUpstreamConnected(): boolean {
    return this.ready;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Puts candles into history without publishing them. */
  seed(stream: string, candles: readonly Candle[]): void {
    for (const c of candles) this.record(stream, c);
  }

  /** Records a kline update in history and publishes it as Binance would send it. */
  publishCandle(stream: string, candle: Candle): PublishedEvent {
    this.record(stream, candle);
    return this.publish(new PublishedEvent(stream, { type: 'candle', candle }, klineEventPayload(candle)));
  }

  publishTrade(stream: string, trade: Trade): PublishedEvent {
    return this.publish(new PublishedEvent(stream, { type: 'trade', trade }, tradeEventPayload(trade)));
  }

  publish(event: PublishedEvent): PublishedEvent {
    for (const listener of this.listeners) listener(event);
    return event;
  }

  emitStatus(event: FeedStatusEvent): void {
    for (const listener of this.statusListeners) listener(event);
  }

  private record(stream: string, candle: Candle): void {
    if (!candle.closed) {
      this.open.set(stream, candle);
      return;
    }
    const list = this.closed.get(stream) ?? [];
    list.push(candle);
    this.closed.set(stream, list);
    if (this.open.get(stream)?.openTimeMs === candle.openTimeMs) this.open.delete(stream);
  }
}

function describeStream(stream: string): StreamDescriptor {
  const [symbol = '', rest = ''] = stream.split('@');
  if (rest.startsWith('kline_')) {
    return { stream, kind: 'kline', symbol: symbol.toUpperCase(), interval: rest.slice('kline_'.length) };
  }
  return { stream, kind: 'trade', symbol: symbol.toUpperCase() };
}

/** A candle for tests: BTCUSDT 1m by default, the given fields over plain values. */
export function fakeCandle(fields: Partial<Candle> & Pick<Candle, 'openTimeMs'>): Candle {
  const interval: Interval = fields.interval ?? '1m';
  return {
    type: 'candle',
    exchange: 'binance-sim',
    symbol: 'BTCUSDT',
    interval,
    closeTimeMs: intervalCloseTimeMs(interval, fields.openTimeMs),
    open: 100,
    high: 101,
    low: 99,
    close: 100.5,
    volume: 2,
    quoteVolume: 200.5,
    takerBuyVolume: 1,
    takerBuyQuoteVolume: 100.25,
    trades: 3,
    firstTradeId: 10,
    lastTradeId: 12,
    closed: true,
    eventTimeMs: fields.openTimeMs + 60_000,
    receivedTimeMs: fields.openTimeMs + 60_005,
    ...fields,
  };
}

export function fakeTrade(fields: Partial<Trade> & Pick<Trade, 'tradeId'>): Trade {
  return {
    type: 'trade',
    exchange: 'binance-sim',
    symbol: 'BTCUSDT',
    price: 100,
    quantity: 0.5,
    tradeTimeMs: 1_700_000_000_000,
    buyerIsMaker: false,
    eventTimeMs: 1_700_000_000_001,
    receivedTimeMs: 1_700_000_000_002,
    ...fields,
  };
}

function klineEventPayload(c: Candle): unknown {
  return {
    e: 'kline',
    E: c.eventTimeMs,
    s: c.symbol,
    k: {
      t: c.openTimeMs,
      T: c.closeTimeMs,
      s: c.symbol,
      i: c.interval,
      f: c.firstTradeId,
      L: c.lastTradeId,
      o: c.open.toFixed(8),
      c: c.close.toFixed(8),
      h: c.high.toFixed(8),
      l: c.low.toFixed(8),
      v: c.volume.toFixed(8),
      n: c.trades,
      x: c.closed,
      q: c.quoteVolume.toFixed(8),
      V: c.takerBuyVolume.toFixed(8),
      Q: c.takerBuyQuoteVolume.toFixed(8),
      B: '0',
    },
  };
}

function tradeEventPayload(t: Trade): unknown {
  return {
    e: 'trade',
    E: t.eventTimeMs,
    s: t.symbol,
    t: t.tradeId,
    p: t.price.toFixed(8),
    q: t.quantity.toFixed(8),
    T: t.tradeTimeMs,
    m: t.buyerIsMaker,
    M: true,
  };
}
