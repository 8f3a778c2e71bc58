import type { BinanceKlineRow } from '@visualgo/contracts';
import { type Candle, type Interval, parseStreamName, type Trade } from '@visualgo/market';
import { domainCandle, domainTrade, klineRow } from './binance-format.js';
import type { MarketCandle, MarketSource } from './market-source.js';

export interface CandleRange {
  /** Candles opening at or after this (default: the first candle with data). */
  readonly startTimeMs?: number;
  /** Candles opening at or before this (default: now). */
  readonly endTimeMs?: number;
  /** Include the still-open candle as of now (default false: closed candles only). */
  readonly includeOpen?: boolean;
}

export interface TradeRange {
  readonly startTimeMs: number;
  /** Exclusive; default now. Never past now. */
  readonly endTimeMs?: number;
  readonly limit?: number;
}

/** Largest answer, so a careless range cannot exhaust memory. */
export const GROUND_TRUTH_MAX_ITEMS = 200_000;

export class UnknownStreamError extends Error {
  override readonly name = 'UnknownStreamError';
}

/**
 * What the exchange produced, for tests to compare against: the exact candles of a kline stream
 * and the exact trades of a symbol, over any range up to the current market time.
 */
export class GroundTruth {
  constructor(
    private readonly universe: ReadonlyMap<string, MarketSource>,
    private readonly marketNowMs: () => number,
  ) {}

  /** Candles of a kline stream (`btcusdt@kline_1m`) as a correct client would have them. */
  candles(stream: string, range: CandleRange = {}): Candle[] {
    const { source, interval } = this.klineStream(stream);
    return this.marketCandles(source, interval, range).map((c) =>
      domainCandle(c, c.closed ? c.closeTimeMs + 1 : this.marketNowMs()),
    );
  }

  /** The same candles as `GET /api/v3/klines` rows. */
  klineRows(stream: string, range: CandleRange = {}): BinanceKlineRow[] {
    const { source, interval } = this.klineStream(stream);
    return this.marketCandles(source, interval, range).map(klineRow);
  }

  /** Trades of a symbol with startTimeMs <= time < endTimeMs. */
  trades(symbol: string, range: TradeRange): Trade[] {
    const source = this.universe.get(symbol.toUpperCase());
    if (!source?.hasTrades) throw new UnknownStreamError(`${symbol} has no trades on this exchange`);
    const now = this.marketNowMs();
    const end = Math.min(range.endTimeMs ?? now, now);
    const limit = Math.min(range.limit ?? GROUND_TRUTH_MAX_ITEMS, GROUND_TRUTH_MAX_ITEMS);
    return source.trades(range.startTimeMs, end, limit).map((t) => domainTrade(source.format, t));
  }

  private klineStream(stream: string): { source: MarketSource; interval: Interval } {
    const id = parseStreamName(stream);
    if (id?.kind !== 'kline') throw new UnknownStreamError(`${stream} is not a kline stream`);
    const source = this.universe.get(id.symbol);
    if (!source) throw new UnknownStreamError(`${id.symbol} is not a symbol of this exchange`);
    if (!source.serves(id)) throw new UnknownStreamError(`${stream} has no data on this exchange`);
    return { source, interval: id.interval };
  }

  private marketCandles(source: MarketSource, interval: Interval, range: CandleRange): MarketCandle[] {
    const now = this.marketNowMs();
    const start = range.startTimeMs ?? source.firstOpenTimeMs(interval) ?? now;
    const end = Math.min(range.endTimeMs ?? now, now);
    const candles = source.candles(interval, start, end, now, GROUND_TRUTH_MAX_ITEMS);
    return range.includeOpen ? candles : candles.filter((c) => c.closed);
  }
}
