import { ExactSum } from './fixed-point.js';
import { type BlockTrades, tradeIdAt } from './market-model.js';

/**
 * A candle's contents in exact integers: prices in ticks, volumes in lots, quote volumes in
 * tick·lot units. `trades === 0` means no trade happened: the prices then carry the previous
 * last price and the trade ids are -1, as Binance reports an empty kline.
 */
export interface CandleTotals {
  readonly openTicks: number;
  readonly highTicks: number;
  readonly lowTicks: number;
  readonly closeTicks: number;
  readonly volumeLots: number;
  readonly quoteUnits: bigint;
  readonly takerBuyLots: number;
  readonly takerBuyQuoteUnits: bigint;
  readonly trades: number;
  readonly firstTradeId: number;
  readonly lastTradeId: number;
}

export function emptyTotals(lastPriceTicks: number): CandleTotals {
  return {
    openTicks: lastPriceTicks,
    highTicks: lastPriceTicks,
    lowTicks: lastPriceTicks,
    closeTicks: lastPriceTicks,
    volumeLots: 0,
    quoteUnits: 0n,
    takerBuyLots: 0,
    takerBuyQuoteUnits: 0n,
    trades: 0,
    firstTradeId: -1,
    lastTradeId: -1,
  };
}

/** Builds a candle from trades added in time order, exactly as an exchange derives its klines. */
export class CandleAccumulator {
  private open = 0;
  private high = 0;
  private low = 0;
  private close = 0;
  private volume = 0;
  private takerBuyVolume = 0;
  private readonly quote = new ExactSum();
  private readonly takerBuyQuote = new ExactSum();
  private count = 0;
  private firstId = -1;
  private lastId = -1;

  constructor(private readonly lastPriceTicks: number) {}

  add(tradeId: number, priceTicks: number, qtyLots: number, buyerIsMaker: boolean): void {
    if (this.count === 0) {
      this.open = priceTicks;
      this.high = priceTicks;
      this.low = priceTicks;
      this.firstId = tradeId;
    } else {
      if (priceTicks > this.high) this.high = priceTicks;
      if (priceTicks < this.low) this.low = priceTicks;
    }
    this.close = priceTicks;
    this.lastId = tradeId;
    this.count++;
    this.volume += qtyLots;
    const notional = priceTicks * qtyLots;
    // Beyond 2^53 a double product loses digits: take the exact (slower) bigint product.
    const exact = notional <= Number.MAX_SAFE_INTEGER ? null : BigInt(priceTicks) * BigInt(qtyLots);
    if (exact === null) this.quote.add(notional);
    else this.quote.addBig(exact);
    if (!buyerIsMaker) {
      this.takerBuyVolume += qtyLots;
      if (exact === null) this.takerBuyQuote.add(notional);
      else this.takerBuyQuote.addBig(exact);
    }
  }

  /** Adds trades `from..to-1` of a block. */
  addBlockRange(trades: BlockTrades, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      this.add(
        tradeIdAt(trades, i),
        trades.priceTicks[i] ?? 0,
        trades.qtyLots[i] ?? 0,
        trades.buyerIsMaker[i] === 1,
      );
    }
  }

  totals(): CandleTotals {
    if (this.count === 0) return emptyTotals(this.lastPriceTicks);
    return {
      openTicks: this.open,
      highTicks: this.high,
      lowTicks: this.low,
      closeTicks: this.close,
      volumeLots: this.volume,
      quoteUnits: this.quote.total(),
      takerBuyLots: this.takerBuyVolume,
      takerBuyQuoteUnits: this.takerBuyQuote.total(),
      trades: this.count,
      firstTradeId: this.firstId,
      lastTradeId: this.lastId,
    };
  }
}

/** Joins two consecutive candles' contents (`a` earlier than `b`). Exact, so associative. */
export function mergeTotals(a: CandleTotals, b: CandleTotals): CandleTotals {
  if (b.trades === 0) return a;
  if (a.trades === 0) return b;
  return {
    openTicks: a.openTicks,
    highTicks: Math.max(a.highTicks, b.highTicks),
    lowTicks: Math.min(a.lowTicks, b.lowTicks),
    closeTicks: b.closeTicks,
    volumeLots: a.volumeLots + b.volumeLots,
    quoteUnits: a.quoteUnits + b.quoteUnits,
    takerBuyLots: a.takerBuyLots + b.takerBuyLots,
    takerBuyQuoteUnits: a.takerBuyQuoteUnits + b.takerBuyQuoteUnits,
    trades: a.trades + b.trades,
    firstTradeId: a.firstTradeId,
    lastTradeId: b.lastTradeId,
  };
}
