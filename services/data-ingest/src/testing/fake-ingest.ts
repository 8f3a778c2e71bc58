import {
  type CandleEvent,
  candleEvent,
  type FeedStatus,
  LocalBus,
  type ReplaySource,
  type StatusEvent,
  statusEvent,
  type TradeEvent,
  tradeEvent,
} from '@visualgo/bus';
import { type Candle, type ExchangeId, parseStreamName, type StreamId, type Trade } from '@visualgo/market';
import type { CandleQuery } from '../hub/candle-store.js';
import type { IngestView } from '../hub/ingest-view.js';

/**
 * Ingestion faked for tests of the edges: a real in-process bus, whose replays come from candles
 * the test seeds or publishes, and an {@link IngestView} whose readiness the test sets. History
 * queries follow the store's contract (Binance semantics: the first `limit` from `startTimeMs`,
 * otherwise the last `limit`).
 */
export class FakeIngest implements IngestView, ReplaySource {
  readonly bus: LocalBus;
  ready = false;
  /** Causes reported while not ready; tests set them. */
  notReadyReasons: string[] = ['not ready'];
  /** Stalled streams to report; tests set them. */
  stalls: { stream: string; reason: string }[] = [];
  private readonly ids: StreamId[];
  private readonly closed = new Map<string, Candle[]>();
  private readonly open = new Map<string, Candle>();

  constructor(
    private readonly names: readonly string[],
    readonly exchange: ExchangeId = 'binance-sim',
  ) {
    this.ids = names.map((name) => {
      const id = parseStreamName(name);
      if (!id) throw new RangeError(`${name} is not a stream name`);
      return id;
    });
    this.bus = new LocalBus({ history: this });
  }

  streams(): readonly StreamId[] {
    return this.ids;
  }

  hasStream(stream: string): boolean {
    return this.names.includes(stream);
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

  /** Everything seeded or published is held: a replay never reaches further. */
  async closedSince(stream: string, sinceOpenTimeMs: number): Promise<readonly Candle[]> {
    return (this.closed.get(stream) ?? []).filter((c) => c.openTimeMs > sinceOpenTimeMs);
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

  readiness(): { readonly ready: boolean; readonly reasons: readonly string[] } {
    return { ready: this.ready, reasons: this.ready ? [] : this.notReadyReasons };
  }

  stalledStreams(): readonly { readonly stream: string; readonly reason: string }[] {
    return this.stalls;
  }

  /** Puts candles into history without publishing them. */
  seed(stream: string, candles: readonly Candle[]): void {
    for (const c of candles) this.record(stream, c);
  }

  /** Records a kline update in history and publishes it on the bus. */
  publishCandle(stream: string, candle: Candle): CandleEvent {
    this.record(stream, candle);
    const event = candleEvent(stream, candle);
    this.bus.publish(event);
    return event;
  }

  publishTrade(stream: string, trade: Trade): TradeEvent {
    const event = tradeEvent(stream, trade);
    this.bus.publish(event);
    return event;
  }

  publishStatus(stream: string, status: FeedStatus): StatusEvent {
    const event = statusEvent(stream, status);
    this.bus.publish(event);
    return event;
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
