import { type Interval, intervalOpenTimeMs, parseStreamName } from '@visualgo/market';
import { aggTradeEvent, klineEvent, tradeEvent } from './binance-format.js';
import type { SimTrade } from './market-model.js';
import type { MarketSource } from './market-source.js';

export type FeedKind = 'kline' | 'trade' | 'aggTrade';

/** One event for one stream, serialised once for every subscriber. */
export interface FeedEvent {
  readonly stream: string;
  readonly kind: FeedKind;
  /** The raw payload as Binance sends it on `/ws/<stream>`. */
  readonly json: string;
  /** Market time the event belongs to (ordering key). */
  readonly timeMs: number;
}

interface SymbolInterest {
  trade: boolean;
  aggTrade: boolean;
  readonly intervals: Set<Interval>;
}

interface Pending {
  readonly key: number;
  readonly seq: number;
  readonly event: FeedEvent;
}

/** Kline update cadence in market time, as Binance documents it. */
export function klineCadenceMs(interval: Interval): number {
  return interval === '1s' ? 1_000 : 2_000;
}

/**
 * Turns the passage of market time into stream events for the streams someone listens to.
 * `advance(now)` emits, in market-time order, every trade with time in [cursor, now) and every
 * kline tick in (cursor, now]: a tick at T carries the candle containing T-1 with the trades
 * before T, and the tick at a candle's end (T = close + 1) is its final `x: true` update.
 */
export class MarketFeed {
  private cursorMs: number;
  private interest = new Map<string, SymbolInterest>();
  private streamNames = new Map<string, string>();

  constructor(
    private readonly sourceOf: (symbol: string) => MarketSource | null,
    startMs: number,
  ) {
    this.cursorMs = startMs;
  }

  get positionMs(): number {
    return this.cursorMs;
  }

  /**
   * Replaces the set of streams that have at least one listener. Streams the market has no data
   * for (other symbols, intervals a replay lacks) are left out: they stay silent, as Binance's
   * streams of symbols it does not list do.
   */
  setInterest(streams: Iterable<string>): void {
    const next = new Map<string, SymbolInterest>();
    for (const name of streams) {
      const id = parseStreamName(name);
      if (!id || !this.sourceOf(id.symbol)?.serves(id)) continue;
      let entry = next.get(id.symbol);
      if (!entry) {
        entry = { trade: false, aggTrade: false, intervals: new Set() };
        next.set(id.symbol, entry);
      }
      if (id.kind === 'kline') entry.intervals.add(id.interval);
      else entry[id.kind] = true;
    }
    this.interest = next;
  }

  advance(nowMs: number): FeedEvent[] {
    const from = this.cursorMs;
    if (nowMs <= from) return [];
    this.cursorMs = nowMs;
    const pending: Pending[] = [];
    for (const [symbol, want] of this.interest) {
      const source = this.sourceOf(symbol);
      if (!source) continue;
      if (want.trade || want.aggTrade) this.collectTrades(source, want, from, nowMs, pending);
      for (const interval of want.intervals) this.collectKlines(source, interval, from, nowMs, pending);
    }
    pending.sort((a, b) => a.key - b.key || a.seq - b.seq);
    return pending.map((p) => p.event);
  }

  private streamName(symbol: string, suffix: string): string {
    const key = `${symbol}@${suffix}`;
    let name = this.streamNames.get(key);
    if (!name) {
      name = `${symbol.toLowerCase()}@${suffix}`;
      this.streamNames.set(key, name);
    }
    return name;
  }

  private collectTrades(
    source: MarketSource,
    want: SymbolInterest,
    fromMs: number,
    toMs: number,
    out: Pending[],
  ): void {
    const spec = source.format;
    const tradeStream = this.streamName(spec.symbol, 'trade');
    const aggStream = this.streamName(spec.symbol, 'aggTrade');
    let group: SimTrade[] = [];
    // Fills of one taker order share an aggregate id and a time, so a group never spans two
    // calls (market time is cut between milliseconds).
    const flushGroup = (): void => {
      const last = group[group.length - 1];
      if (!last) return;
      out.push({
        key: last.timeMs + 0.5,
        seq: out.length,
        event: {
          stream: aggStream,
          kind: 'aggTrade',
          json: JSON.stringify(aggTradeEvent(spec, group)),
          timeMs: last.timeMs,
        },
      });
      group = [];
    };
    source.forEachTrade(fromMs, toMs, (trade) => {
      if (want.aggTrade && group.length > 0 && group[0]?.aggId !== trade.aggId) flushGroup();
      if (want.trade) {
        out.push({
          // Trades happen during their millisecond: after a kline tick at the same ms boundary.
          key: trade.timeMs + 0.5,
          seq: out.length,
          event: {
            stream: tradeStream,
            kind: 'trade',
            json: JSON.stringify(tradeEvent(spec, trade)),
            timeMs: trade.timeMs,
          },
        });
      }
      if (want.aggTrade) group.push(trade);
    });
    flushGroup();
  }

  private collectKlines(
    source: MarketSource,
    interval: Interval,
    fromMs: number,
    toMs: number,
    out: Pending[],
  ): void {
    const stream = this.streamName(source.format.symbol, `kline_${interval}`);
    const step = klineCadenceMs(interval);
    for (let tick = Math.floor(fromMs / step) * step + step; tick <= toMs; tick += step) {
      const candle = source.candle(interval, intervalOpenTimeMs(interval, tick - 1), tick);
      if (!candle) continue;
      out.push({
        key: tick,
        seq: out.length,
        event: { stream, kind: 'kline', json: JSON.stringify(klineEvent(candle, tick)), timeMs: tick },
      });
    }
  }
}
