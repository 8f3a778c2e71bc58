import type { CandleEvent, MarketEvent } from '../market-event.js';

/**
 * How far one stream has got in this process, by sequence number: what its local subscribers
 * have been given, from this process's own publishing and from NATS alike. Two producers publish
 * every candle and trade of a stream they share, and a late copy must not reach anyone twice:
 * closed candles and trades count by seq, open-candle updates by (open time, last trade id,
 * event time).
 */
export class StreamMark {
  /** Seq of the newest closed candle. */
  closedSeq: number | null = null;
  tradeSeq: number | null = null;
  private open: { seq: number; lastTradeId: number; eventTimeMs: number } | null = null;
  /** The newest candle state (open update or close), for a subscriber that asks for the open candle. */
  latest: CandleEvent | null = null;

  /** Whether the event is new here; records it when it is. Status events always are. */
  accept(event: MarketEvent): boolean {
    switch (event.type) {
      case 'status':
        return true;
      case 'trade':
        if (this.tradeSeq !== null && event.seq <= this.tradeSeq) return false;
        this.tradeSeq = event.seq;
        return true;
      case 'candle': {
        if (this.closedSeq !== null && event.seq <= this.closedSeq) return false;
        const { candle } = event;
        if (candle.closed) {
          this.closedSeq = event.seq;
          this.open = null;
          this.latest = event;
          return true;
        }
        const o = this.open;
        if (
          o !== null &&
          (event.seq < o.seq ||
            (event.seq === o.seq &&
              (candle.lastTradeId < o.lastTradeId ||
                (candle.lastTradeId === o.lastTradeId && candle.eventTimeMs <= o.eventTimeMs))))
        ) {
          return false;
        }
        this.open = { seq: event.seq, lastTradeId: candle.lastTradeId, eventTimeMs: candle.eventTimeMs };
        this.latest = event;
        return true;
      }
    }
  }
}
