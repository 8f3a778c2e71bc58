import type { BinanceKlineRow } from '@visualgo/contracts';
import { type Candle, type Interval, parseStreamName, type Trade } from '@visualgo/market';
import { domainCandle, domainTrade, klineRow } from './binance-format.js';
import type { CandleHistory, SimCandle } from './candle-history.js';

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
    private readonly universe: ReadonlyMap<string, CandleHistory>,
    private readonly marketNowMs: () => number,
  ) {}

  /** Candles of a kline stream (`btcusdt@kline_1m`) as a correct client would have them. */
  candles(stream: string, range: CandleRange = {}): Candle[] {
    const { history, interval } = this.klineStream(stream);
    return this.simCandles(history, interval, range).map((c) =>
      domainCandle(history.market.spec, c, c.closed ? c.closeTimeMs + 1 : this.marketNowMs()),
    );
  }

  /** The same candles as `GET /api/v3/klines` rows. */
  klineRows(stream: string, range: CandleRange = {}): BinanceKlineRow[] {
    const { history, interval } = this.klineStream(stream);
    return this.simCandles(history, interval, range).map((c) => klineRow(history.market.spec, c));
  }

  /** Trades of a symbol with startTimeMs <= time < endTimeMs. */
  trades(symbol: string, range: TradeRange): Trade[] {
    const history = this.universe.get(symbol.toUpperCase());
    if (!history) throw new UnknownStreamError(`${symbol} is not a simulated symbol`);
    const now = this.marketNowMs();
    const end = Math.min(range.endTimeMs ?? now, now);
    const limit = Math.min(range.limit ?? GROUND_TRUTH_MAX_ITEMS, GROUND_TRUTH_MAX_ITEMS);
    return history.market
      .trades(range.startTimeMs, end, limit)
      .map((t) => domainTrade(history.market.spec, t));
  }

  private klineStream(stream: string): { history: CandleHistory; interval: Interval } {
    const id = parseStreamName(stream);
    if (id?.kind !== 'kline') throw new UnknownStreamError(`${stream} is not a kline stream`);
    const history = this.universe.get(id.symbol);
    if (!history) throw new UnknownStreamError(`${id.symbol} is not a simulated symbol`);
    return { history, interval: id.interval };
  }

  private simCandles(history: CandleHistory, interval: Interval, range: CandleRange): SimCandle[] {
    const now = this.marketNowMs();
    const start = range.startTimeMs ?? history.firstOpenTimeMs(interval);
    const end = Math.min(range.endTimeMs ?? now, now);
    const candles = history.candles(interval, start, end, now, GROUND_TRUTH_MAX_ITEMS);
    return range.includeOpen ? candles : candles.filter((c) => c.closed);
  }
}
