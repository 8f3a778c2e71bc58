import type { Interval, StreamId } from '@visualgo/market';
import { candleDecimals } from '../binance-format.js';
import { CandleHistory } from '../candle-history.js';
import type { SimTrade } from '../market-model.js';
import type { MarketCandle, MarketSource, SymbolFormat } from '../market-source.js';
import { partialKline } from './kline-phases.js';
import type { KlineSeries } from './kline-series.js';
import type { TradeArchive } from './trade-archive.js';

/**
 * One symbol of a replay: its recorded klines per interval and, when the files have them, its
 * trades. A closed candle is its recorded row, digit for digit (with the first and last trade id
 * from the trades when they are there; kline files do not carry ids, so -1 otherwise). A candle
 * still open at the asked instant is built from the trades before that instant when the trade
 * files cover the whole candle, else from the row in a few phases (`partialKline`).
 */
export class ReplaySource implements MarketSource {
  private readonly tradeCandles: CandleHistory | null;

  constructor(
    readonly format: SymbolFormat,
    private readonly klines: ReadonlyMap<Interval, KlineSeries>,
    private readonly archive: TradeArchive | null,
  ) {
    this.tradeCandles = archive ? new CandleHistory(archive) : null;
  }

  get hasTrades(): boolean {
    return this.archive?.hasTrades ?? false;
  }

  get intervals(): Interval[] {
    return [...this.klines.keys()];
  }

  serves(stream: StreamId): boolean {
    if (stream.kind === 'kline') return this.klines.has(stream.interval);
    // The archive's trade files have no aggregate ids, and aggTrades files are not read.
    return stream.kind === 'trade' && this.hasTrades;
  }

  firstOpenTimeMs(interval: Interval): number | null {
    const series = this.klines.get(interval);
    return series && series.length > 0 ? series.openTimeMs(0) : null;
  }

  candle(interval: Interval, openTimeMs: number, untilMs: number): MarketCandle | null {
    const series = this.klines.get(interval);
    if (!series || untilMs <= openTimeMs) return null;
    const row = series.indexOf(openTimeMs);
    return row < 0 ? null : this.candleAt(series, row, untilMs);
  }

  candles(
    interval: Interval,
    fromOpenMs: number,
    toOpenMs: number,
    nowMs: number,
    limit: number,
  ): MarketCandle[] {
    const series = this.klines.get(interval);
    if (!series) return [];
    const last = Math.min(toOpenMs, nowMs);
    const out: MarketCandle[] = [];
    for (let row = series.lowerBound(fromOpenMs); row < series.length && out.length < limit; row++) {
      if (series.openTimeMs(row) > last) break;
      out.push(this.candleAt(series, row, nowMs));
    }
    return out;
  }

  latestCandles(interval: Interval, toOpenMs: number, nowMs: number, limit: number): MarketCandle[] {
    const series = this.klines.get(interval);
    if (!series) return [];
    // Recorded history can have holes (exchange downtime): count rows, not intervals.
    const end = series.lowerBound(Math.min(toOpenMs, nowMs) + 1);
    const out: MarketCandle[] = [];
    for (let row = Math.max(0, end - limit); row < end; row++) out.push(this.candleAt(series, row, nowMs));
    return out;
  }

  forEachTrade(fromMs: number, toMs: number, visit: (trade: SimTrade) => void): void {
    this.archive?.forEachTrade(fromMs, toMs, visit);
  }

  tradesFromId(fromId: number, untilMs: number, limit: number): SimTrade[] {
    return this.archive?.tradesFromId(fromId, untilMs, limit) ?? [];
  }

  latestTrades(untilMs: number, limit: number): SimTrade[] {
    return this.archive?.latestTrades(untilMs, limit) ?? [];
  }

  trades(fromMs: number, toMs: number, limit: number): SimTrade[] {
    return this.archive?.trades(fromMs, toMs, limit) ?? [];
  }

  private candleAt(series: KlineSeries, row: number, untilMs: number): MarketCandle {
    const interval = series.interval;
    const openTimeMs = series.openTimeMs(row);
    const closeTimeMs = series.closeTimeMs(row);
    const covered = this.archive?.covers(openTimeMs, closeTimeMs + 1) === true;
    const base = { symbol: this.format.symbol, interval, openTimeMs, closeTimeMs };
    if (untilMs > closeTimeMs) {
      const ids = covered ? this.archive?.tradeIdRange(openTimeMs, closeTimeMs + 1) : null;
      return {
        ...base,
        values: series.values(row),
        trades: series.trades(row),
        firstTradeId: ids?.first ?? -1,
        lastTradeId: ids?.last ?? -1,
        closed: true,
      };
    }
    if (covered && this.tradeCandles) {
      const totals = this.tradeCandles.candle(interval, openTimeMs, untilMs).totals;
      return {
        ...base,
        values: candleDecimals(this.format, totals),
        trades: totals.trades,
        firstTradeId: totals.firstTradeId,
        lastTradeId: totals.lastTradeId,
        closed: false,
      };
    }
    const partial = partialKline(series, row, untilMs);
    return {
      ...base,
      values: partial.values,
      trades: partial.trades,
      firstTradeId: -1,
      lastTradeId: -1,
      closed: false,
    };
  }
}
