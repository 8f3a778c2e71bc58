import { type Interval, intervalOpenTimeMs, parseStreamName } from '@visualgo/market';
import { aggTradeEvent, klineEvent, tradeEvent } from './binance-format.js';
import type { CandleHistory } from './candle-history.js';
import { type SimTrade, tradeAt } from './market-model.js';

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
    private readonly historyOf: (symbol: string) => CandleHistory | null,
    startMs: number,
  ) {
    this.cursorMs = startMs;
  }

  get positionMs(): number {
    return this.cursorMs;
  }

  /** Replaces the set of streams that have at least one listener. */
  setInterest(streams: Iterable<string>): void {
    const next = new Map<string, SymbolInterest>();
    for (const name of streams) {
      const id = parseStreamName(name);
      if (!id || !this.historyOf(id.symbol)) continue;
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
      const history = this.historyOf(symbol);
      if (!history) continue;
      if (want.trade || want.aggTrade) this.collectTrades(history, want, from, nowMs, pending);
      for (const interval of want.intervals) this.collectKlines(history, interval, from, nowMs, pending);
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
    history: CandleHistory,
    want: SymbolInterest,
    fromMs: number,
    toMs: number,
    out: Pending[],
  ): void {
    const spec = history.market.spec;
    const tradeStream = this.streamName(spec.symbol, 'trade');
    const aggStream = this.streamName(spec.symbol, 'aggTrade');
    let group: SimTrade[] = [];
    history.market.forEachTrade(fromMs, toMs, (block, i) => {
      const trade = tradeAt(block, i);
      // Trades happen during their millisecond: after a kline tick at the same ms boundary.
      const key = trade.timeMs + 0.5;
      if (want.trade) {
        out.push({
          key,
          seq: out.length,
          event: {
            stream: tradeStream,
            kind: 'trade',
            json: JSON.stringify(tradeEvent(spec, trade)),
            timeMs: trade.timeMs,
          },
        });
      }
      if (want.aggTrade) {
        group.push(trade);
        const endsHere = i + 1 >= block.count || block.aggOffset[i + 1] !== block.aggOffset[i];
        if (endsHere) {
          out.push({
            key,
            seq: out.length,
            event: {
              stream: aggStream,
              kind: 'aggTrade',
              json: JSON.stringify(aggTradeEvent(spec, group)),
              timeMs: trade.timeMs,
            },
          });
          group = [];
        }
      }
    });
  }

  private collectKlines(
    history: CandleHistory,
    interval: Interval,
    fromMs: number,
    toMs: number,
    out: Pending[],
  ): void {
    const spec = history.market.spec;
    const stream = this.streamName(spec.symbol, `kline_${interval}`);
    const step = klineCadenceMs(interval);
    const origin = history.market.originMs;
    for (let tick = Math.floor(fromMs / step) * step + step; tick <= toMs; tick += step) {
      if (tick - 1 < origin) continue;
      const open = intervalOpenTimeMs(interval, tick - 1);
      const candle = history.candle(interval, open, tick);
      out.push({
        key: tick,
        seq: out.length,
        event: { stream, kind: 'kline', json: JSON.stringify(klineEvent(spec, candle, tick)), timeMs: tick },
      });
    }
  }
}
