import type { BlockSource } from './candle-history.js';
import { hashString, hashWords, SeededRandom } from './seeded-random.js';
import { type SymbolSpec, symbolSpec } from './symbol-spec.js';

/**
 * The simulated market: a seeded random process per symbol, generated in one-minute blocks.
 *
 * Determinism. The market is a pure function of (seed, symbol, origin, time). Each block's
 * random draws come from hash(seed, symbol, block index, purpose); nothing depends on when or
 * in which pieces a block is asked for. Two layers:
 *
 * 1. The block chain: per block, a few cheap state variables (volatility regime, long-run
 *    trend, decaying shock, closing price, order and trade counts, first trade id). Each block
 *    follows from the previous one, so the chain is computed forward from the origin once and
 *    kept in typed arrays (a few dozen bytes a block); jumping to any block is then O(1).
 * 2. The trades of a block: generated on demand from the block's chain entry and its own hash
 *    (a Brownian bridge from the previous block's last price to this block's closing price,
 *    clustered arrival times, lognormal sizes), cached in a small LRU.
 *
 * Price dynamics: log price = trend + shock. The trend is a random walk with regime-dependent
 * volatility and a very weak pull to the reference price (half-life 30 days) so long runs stay
 * plausible. Shocks are rare jumps of 4-9 block standard deviations that decay geometrically
 * (~2.4-minute half-life): price stretches away from its average and snaps back. Regimes
 * (quiet, normal, active, turbulent) switch as a Markov chain and scale both volatility and
 * trade rate; shock blocks and stretched prices draw bursts of trading.
 */

export const BLOCK_MS = 60_000;

const REGIME_VOLATILITY = [0.45, 1, 1.6, 2.6] as const;
const REGIME_ACTIVITY = [0.35, 1, 1.8, 3] as const;
const REGIME_SHOCKS = [0.5, 1, 1.5, 2] as const;
/** Cumulative switch probabilities per block: [to quiet, to normal, to active, to turbulent]. */
const REGIME_SWITCH: readonly (readonly number[])[] = [
  [0, 0.012, 0.012, 0.012],
  [0.006, 0.006, 0.014, 0.015],
  [0, 0.012, 0.012, 0.016],
  [0, 0, 0.03, 0.03],
];
const TREND_PULL = Math.LN2 / (30 * 1440);
const SHOCK_DECAY = 0.75;
const SHOCK_PROBABILITY = 0.005;
const EXTRA_FILLS_PER_ORDER = 0.35;

/** Purposes mixed into the block hash so the chain and the trades draw independent numbers. */
const CHAIN_STREAM = 1;
const TRADES_STREAM = 2;

/** One trade as the model produced it (integers: ticks and lots). */
export interface SimTrade {
  readonly tradeId: number;
  readonly aggId: number;
  readonly timeMs: number;
  readonly priceTicks: number;
  readonly qtyLots: number;
  /** True when the taker sold. */
  readonly buyerIsMaker: boolean;
}

/** The chain entry of one block. */
export interface BlockInfo {
  readonly block: number;
  readonly startMs: number;
  readonly regime: number;
  readonly orders: number;
  readonly trades: number;
  readonly firstTradeId: number;
  readonly firstAggId: number;
  /** Price of the last trade before this block. */
  readonly openRefTicks: number;
  /** Price of this block's last trade (equals openRefTicks when the block has no trade). */
  readonly closeTicks: number;
  /** Standard deviation of the block's log return. */
  readonly sigma: number;
  /** +1 or -1 when a shock starts in this block, else 0. */
  readonly shock: number;
}

/** The trades of one block, as parallel arrays in time order. */
export interface BlockTrades {
  readonly block: number;
  readonly count: number;
  readonly firstTradeId: number;
  readonly firstAggId: number;
  readonly timeMs: Float64Array;
  readonly priceTicks: Float64Array;
  readonly qtyLots: Float64Array;
  readonly buyerIsMaker: Uint8Array;
  /** Aggregate-trade index relative to firstAggId: fills of one taker order share it (absent: no aggregate ids). */
  readonly aggOffset?: Uint32Array;
  /** Trade ids, when they are not `firstTradeId + index` (recorded trades may skip ids). */
  readonly tradeIds?: Float64Array;
}

export function blockOf(timeMs: number): number {
  return Math.floor(timeMs / BLOCK_MS);
}

class GrowableChain {
  length = 0;
  regime = new Uint8Array(1024);
  trend = new Float64Array(1024);
  shockLevel = new Float64Array(1024);
  shock = new Int8Array(1024);
  sigma = new Float64Array(1024);
  closeTicks = new Float64Array(1024);
  orders = new Float64Array(1024);
  trades = new Float64Array(1024);
  firstTradeId = new Float64Array(1024);
  firstAggId = new Float64Array(1024);

  reserve(size: number): void {
    if (size <= this.regime.length) return;
    let capacity = this.regime.length;
    while (capacity < size) capacity *= 2;
    const grow = <T extends Float64Array | Uint8Array | Int8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.regime = grow(this.regime, (n) => new Uint8Array(n));
    this.trend = grow(this.trend, (n) => new Float64Array(n));
    this.shockLevel = grow(this.shockLevel, (n) => new Float64Array(n));
    this.shock = grow(this.shock, (n) => new Int8Array(n));
    this.sigma = grow(this.sigma, (n) => new Float64Array(n));
    this.closeTicks = grow(this.closeTicks, (n) => new Float64Array(n));
    this.orders = grow(this.orders, (n) => new Float64Array(n));
    this.trades = grow(this.trades, (n) => new Float64Array(n));
    this.firstTradeId = grow(this.firstTradeId, (n) => new Float64Array(n));
    this.firstAggId = grow(this.firstAggId, (n) => new Float64Array(n));
  }
}

/** The market of one symbol from the origin on. */
export class SymbolMarket implements BlockSource {
  readonly originBlock: number;
  private readonly chain = new GrowableChain();
  private readonly symbolHash: number;
  private readonly tick: number;
  private readonly referenceTicks: number;
  private readonly meanLots: number;
  private readonly tradeCache = new Map<number, BlockTrades>();

  constructor(
    readonly spec: SymbolSpec,
    private readonly seedHash: number,
    readonly originMs: number,
    private readonly onTradesGenerated: (count: number) => void = () => {},
    private readonly tradeCacheBlocks = 256,
  ) {
    this.originBlock = blockOf(originMs);
    this.symbolHash = hashString(spec.symbol);
    this.tick = 10 ** -spec.tickDecimals;
    this.referenceTicks = Math.max(1, Math.round(spec.referencePrice / this.tick));
    this.meanLots = spec.meanQuantity * 10 ** spec.lotDecimals;
  }

  get symbol(): string {
    return this.spec.symbol;
  }

  openRefTicks(block: number): number | null {
    return this.blockInfo(block)?.openRefTicks ?? null;
  }

  /** The chain entry of a block, or null before the origin. */
  blockInfo(block: number): BlockInfo | null {
    const i = block - this.originBlock;
    if (i < 0) return null;
    this.extendTo(i);
    const c = this.chain;
    const closeTicks = c.closeTicks[i] ?? 0;
    return {
      block,
      startMs: block * BLOCK_MS,
      regime: c.regime[i] ?? 1,
      orders: c.orders[i] ?? 0,
      trades: c.trades[i] ?? 0,
      firstTradeId: c.firstTradeId[i] ?? 0,
      firstAggId: c.firstAggId[i] ?? 0,
      openRefTicks: i === 0 ? this.referenceTicks : (c.closeTicks[i - 1] ?? closeTicks),
      closeTicks,
      sigma: c.sigma[i] ?? 0,
      shock: c.shock[i] ?? 0,
    };
  }

  /** The trades of a block (cached), or null before the origin. */
  blockTrades(block: number): BlockTrades | null {
    const cached = this.tradeCache.get(block);
    if (cached) {
      this.tradeCache.delete(block);
      this.tradeCache.set(block, cached);
      return cached;
    }
    const info = this.blockInfo(block);
    if (!info) return null;
    const trades = this.generateTrades(info);
    this.onTradesGenerated(trades.count);
    this.tradeCache.set(block, trades);
    if (this.tradeCache.size > this.tradeCacheBlocks) {
      const oldest = this.tradeCache.keys().next();
      if (!oldest.done) this.tradeCache.delete(oldest.value);
    }
    return trades;
  }

  /** Calls `visit` for every trade with `fromMs <= time < toMs`, in order. */
  forEachTrade(fromMs: number, toMs: number, visit: (trades: BlockTrades, index: number) => void): void {
    const start = Math.max(fromMs, this.originMs);
    if (toMs <= start) return;
    const last = blockOf(toMs - 1);
    for (let block = blockOf(start); block <= last; block++) {
      const trades = this.blockTrades(block);
      if (!trades) continue;
      let i = lowerBound(trades.timeMs, trades.count, start);
      for (; i < trades.count; i++) {
        const t = trades.timeMs[i] ?? 0;
        if (t >= toMs) break;
        visit(trades, i);
      }
    }
  }

  /** Trades with `fromMs <= time < toMs`, at most `limit` of them. */
  trades(fromMs: number, toMs: number, limit = Number.POSITIVE_INFINITY): SimTrade[] {
    const out: SimTrade[] = [];
    this.forEachTrade(fromMs, toMs, (b, i) => {
      if (out.length < limit) out.push(tradeAt(b, i));
    });
    return out;
  }

  private extendTo(index: number): void {
    const c = this.chain;
    if (index < c.length) return;
    c.reserve(index + 1);
    const spec = this.spec;
    for (let i = c.length; i <= index; i++) {
      const block = this.originBlock + i;
      const rng = new SeededRandom(hashWords(this.seedHash, this.symbolHash, block, CHAIN_STREAM));
      const prev = i - 1;
      const prevRegime = i === 0 ? 1 : (c.regime[prev] ?? 1);
      const switches = REGIME_SWITCH[prevRegime] ?? [0, 0, 0, 0];
      const u = rng.next();
      let regime = prevRegime;
      for (let r = 0; r < switches.length; r++) {
        if (r !== prevRegime && u < (switches[r] ?? 0)) {
          regime = r;
          break;
        }
      }
      const sigma = spec.volatilityPerMinute * (REGIME_VOLATILITY[regime] ?? 1);
      const prevTrend = i === 0 ? 0 : (c.trend[prev] ?? 0);
      const trend = prevTrend * (1 - TREND_PULL) + sigma * rng.normal();
      let shockLevel = (i === 0 ? 0 : (c.shockLevel[prev] ?? 0)) * SHOCK_DECAY;
      let shock = 0;
      if (rng.next() < SHOCK_PROBABILITY * (REGIME_SHOCKS[regime] ?? 1)) {
        shock = rng.next() < 0.5 ? -1 : 1;
        shockLevel += shock * sigma * (4 + 5 * rng.next());
      }
      const stretch = Math.min(3, Math.abs(shockLevel) / (4 * sigma));
      const rate =
        spec.ordersPerSecond * 60 * (REGIME_ACTIVITY[regime] ?? 1) * (shock !== 0 ? 3 : 1 + stretch);
      const orders = rng.poisson(rate);
      const trades = orders + rng.poisson(orders * EXTRA_FILLS_PER_ORDER);
      const prevClose = i === 0 ? this.referenceTicks : (c.closeTicks[prev] ?? this.referenceTicks);
      const closeTicks =
        orders === 0
          ? prevClose
          : Math.max(1, Math.round(this.referenceTicks * Math.exp(trend + shockLevel)));
      c.regime[i] = regime;
      c.trend[i] = trend;
      c.shockLevel[i] = shockLevel;
      c.shock[i] = shock;
      c.sigma[i] = sigma;
      c.closeTicks[i] = closeTicks;
      c.orders[i] = orders;
      c.trades[i] = trades;
      c.firstTradeId[i] =
        i === 0
          ? 100_000_000 + (this.symbolHash % 900_000_000)
          : (c.firstTradeId[prev] ?? 0) + (c.trades[prev] ?? 0);
      c.firstAggId[i] =
        i === 0
          ? 10_000_000 + (this.symbolHash % 90_000_000)
          : (c.firstAggId[prev] ?? 0) + (c.orders[prev] ?? 0);
    }
    c.length = index + 1;
  }

  private generateTrades(info: BlockInfo): BlockTrades {
    const orders = info.orders;
    const count = info.trades;
    const rng = new SeededRandom(hashWords(this.seedHash, this.symbolHash, info.block, TRADES_STREAM));
    const fills = new Uint32Array(orders).fill(1);
    for (let e = orders; e < count; e++) {
      const o = rng.int(orders);
      fills[o] = (fills[o] ?? 1) + 1;
    }

    // Arrival times: uniform background, clusters around a few burst centres, and a dense
    // burst early in the block when a shock starts here.
    const orderTime = new Float64Array(orders);
    const bursts = 1 + rng.poisson(info.regime >= 2 ? 2 : 0.7);
    const centres = Array.from({ length: bursts }, () => rng.next() * BLOCK_MS);
    const shockCentre = rng.next() * (BLOCK_MS / 2);
    for (let o = 0; o < orders; o++) {
      const r = rng.next();
      let t: number;
      if (info.shock !== 0 && r < 0.5) t = shockCentre + Math.abs(rng.normal()) * 1500;
      else if (r < (info.shock !== 0 ? 0.75 : 0.4)) t = (centres[rng.int(bursts)] ?? 0) + rng.normal() * 700;
      else t = rng.next() * BLOCK_MS;
      orderTime[o] = Math.min(BLOCK_MS - 1, Math.max(0, Math.floor(t)));
    }
    orderTime.sort();

    // Order prices: a bridge from just off the previous last price to this block's close, with
    // an occasional temporary spike (a wick) on the way.
    const orderPrice = new Float64Array(orders);
    if (orders > 0) {
      const start = Math.max(1, info.openRefTicks + Math.round(rng.normal() * 1.2));
      const end = info.closeTicks;
      const walk = new Float64Array(orders);
      for (let o = 1; o < orders; o++) {
        const du = ((orderTime[o] ?? 0) - (orderTime[o - 1] ?? 0)) / BLOCK_MS + 1e-4;
        walk[o] = (walk[o - 1] ?? 0) + info.sigma * Math.sqrt(du) * rng.normal();
      }
      if (orders > 4 && rng.next() < 0.06 * (REGIME_VOLATILITY[info.regime] ?? 1)) {
        const centre = rng.int(orders);
        const height = (rng.next() < 0.5 ? -1 : 1) * info.sigma * (2 + 3 * rng.next());
        const width = Math.max(2, orders * 0.08);
        for (let o = 0; o < orders; o++) {
          walk[o] = (walk[o] ?? 0) + height * Math.max(0, 1 - Math.abs(o - centre) / width);
        }
      }
      const t0 = orderTime[0] ?? 0;
      const span = (orderTime[orders - 1] ?? 0) - t0;
      const logStart = Math.log(start);
      const logEnd = Math.log(end);
      const w0 = walk[0] ?? 0;
      const wLast = (walk[orders - 1] ?? 0) - w0;
      for (let o = 0; o < orders; o++) {
        const frac = orders === 1 ? 1 : span > 0 ? ((orderTime[o] ?? 0) - t0) / span : o / (orders - 1);
        const logP = logStart + frac * (logEnd - logStart) + ((walk[o] ?? 0) - w0) - frac * wLast;
        orderPrice[o] = Math.max(1, Math.round(Math.exp(logP)));
      }
      orderPrice[0] = orders === 1 ? end : start;
      orderPrice[orders - 1] = end;
    }

    const timeMs = new Float64Array(count);
    const priceTicks = new Float64Array(count);
    const qtyLots = new Float64Array(count);
    const buyerIsMaker = new Uint8Array(count);
    const aggOffset = new Uint32Array(count);
    const maxLots = Math.max(1, Math.round(this.meanLots * 200));
    const sizeBoost = info.shock !== 0 ? 1.6 : 1;
    let n = 0;
    let lastPrice = info.openRefTicks;
    for (let o = 0; o < orders; o++) {
      const price = orderPrice[o] ?? lastPrice;
      const takerBuy = price > lastPrice ? true : price < lastPrice ? false : rng.next() < 0.5;
      lastPrice = price;
      const orderFills = fills[o] ?? 1;
      for (let f = 0; f < orderFills; f++) {
        const size =
          this.meanLots * sizeBoost * Math.exp(0.9 * rng.normal() - 0.405) * (orderFills > 1 ? 0.8 : 1);
        timeMs[n] = info.startMs + (orderTime[o] ?? 0);
        priceTicks[n] = price;
        qtyLots[n] = Math.min(maxLots, Math.max(1, Math.round(size)));
        buyerIsMaker[n] = takerBuy ? 0 : 1;
        aggOffset[n] = o;
        n++;
      }
    }
    return {
      block: info.block,
      count,
      firstTradeId: info.firstTradeId,
      firstAggId: info.firstAggId,
      timeMs,
      priceTicks,
      qtyLots,
      buyerIsMaker,
      aggOffset,
    };
  }
}

export function tradeAt(trades: BlockTrades, index: number): SimTrade {
  return {
    tradeId: tradeIdAt(trades, index),
    aggId: trades.aggOffset ? trades.firstAggId + (trades.aggOffset[index] ?? 0) : -1,
    timeMs: trades.timeMs[index] ?? 0,
    priceTicks: trades.priceTicks[index] ?? 0,
    qtyLots: trades.qtyLots[index] ?? 0,
    buyerIsMaker: trades.buyerIsMaker[index] === 1,
  };
}

export function tradeIdAt(trades: BlockTrades, index: number): number {
  return trades.tradeIds ? (trades.tradeIds[index] ?? -1) : trades.firstTradeId + index;
}

/** First index whose time is >= `timeMs`. */
export function lowerBound(times: Float64Array, count: number, timeMs: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] ?? 0) < timeMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface MarketModelOptions {
  readonly seed: string;
  /** First instant with market data; blocks before it do not exist. Floored to the minute. */
  readonly originMs: number;
  /** Called with the number of trades each time a minute's trades are generated (metrics). */
  readonly onTradesGenerated?: (count: number) => void;
}

/** All symbols' markets for one seed and origin. */
export class MarketModel {
  readonly originMs: number;
  private readonly seedHash: number;
  private readonly markets = new Map<string, SymbolMarket>();
  private readonly onTradesGenerated: ((count: number) => void) | undefined;

  constructor(options: MarketModelOptions) {
    this.seedHash = hashString(options.seed);
    this.originMs = blockOf(options.originMs) * BLOCK_MS;
    this.onTradesGenerated = options.onTradesGenerated;
  }

  /** The market of a symbol (any symbol; unknown ones get derived defaults). */
  symbol(name: string): SymbolMarket {
    const key = name.toUpperCase();
    let market = this.markets.get(key);
    if (!market) {
      market = new SymbolMarket(symbolSpec(key), this.seedHash, this.originMs, this.onTradesGenerated);
      this.markets.set(key, market);
    }
    return market;
  }
}
