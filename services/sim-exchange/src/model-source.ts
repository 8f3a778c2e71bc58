import { type Interval, intervalOpenTimeMs, type StreamId } from '@visualgo/market';
import { marketCandle } from './binance-format.js';
import { CandleHistory } from './candle-history.js';
import { type SimTrade, type SymbolMarket, tradeAt } from './market-model.js';
import type { MarketCandle, MarketSource, SymbolFormat } from './market-source.js';
import { latestTrades, tradesFromId } from './trade-lookup.js';

/** The seeded model's market of one symbol: every stream, every interval, from its origin on. */
export class ModelSource implements MarketSource {
  readonly history: CandleHistory;
  readonly hasTrades = true;

  constructor(readonly market: SymbolMarket) {
    this.history = new CandleHistory(market);
  }

  get format(): SymbolFormat {
    return this.market.spec;
  }

  serves(_stream: StreamId): boolean {
    return true;
  }

  firstOpenTimeMs(interval: Interval): number {
    return this.history.firstOpenTimeMs(interval);
  }

  candle(interval: Interval, openTimeMs: number, untilMs: number): MarketCandle | null {
    if (untilMs <= this.market.originMs) return null;
    return marketCandle(this.market.spec, this.history.candle(interval, openTimeMs, untilMs));
  }

  candles(
    interval: Interval,
    fromOpenMs: number,
    toOpenMs: number,
    nowMs: number,
    limit: number,
  ): MarketCandle[] {
    return this.history
      .candles(interval, fromOpenMs, toOpenMs, nowMs, limit)
      .map((c) => marketCandle(this.market.spec, c));
  }

  latestCandles(interval: Interval, toOpenMs: number, nowMs: number, limit: number): MarketCandle[] {
    // Candles exist for every interval from the origin on, so the first of the `limit` most
    // recent is `limit - 1` intervals back.
    let fromOpen = intervalOpenTimeMs(interval, Math.min(toOpenMs, nowMs));
    for (let i = 1; i < limit; i++) fromOpen = intervalOpenTimeMs(interval, fromOpen - 1);
    return this.candles(interval, fromOpen, toOpenMs, nowMs, limit);
  }

  forEachTrade(fromMs: number, toMs: number, visit: (trade: SimTrade) => void): void {
    this.market.forEachTrade(fromMs, toMs, (block, i) => visit(tradeAt(block, i)));
  }

  tradesFromId(fromId: number, untilMs: number, limit: number): SimTrade[] {
    return tradesFromId(this.market, fromId, untilMs, limit);
  }

  latestTrades(untilMs: number, limit: number): SimTrade[] {
    return latestTrades(this.market, untilMs, limit);
  }

  trades(fromMs: number, toMs: number, limit: number): SimTrade[] {
    return this.market.trades(fromMs, toMs, limit);
  }
}
