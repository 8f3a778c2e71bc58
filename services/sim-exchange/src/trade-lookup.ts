import { blockOf, lowerBound, type SimTrade, type SymbolMarket, tradeAt } from './market-model.js';

/**
 * Trades by id, for the REST trade-history endpoints. Trade ids are contiguous per symbol and
 * the model's block chain keeps each minute's first trade id and trade count, so the minute
 * holding any id is a binary search over the chain (about 14 steps for ten days of minutes);
 * only that minute and the ones after it, up to `limit` trades, are generated.
 */

/**
 * The first block in `[market.originBlock, lastBlock]` whose trades do not all have ids below
 * `tradeId`: the block holding that id, the first block with a trade for ids before the first
 * trade, or null when every trade up to `lastBlock` has a smaller id.
 */
export function blockOfTradeId(market: SymbolMarket, tradeId: number, lastBlock: number): number | null {
  let lo = market.originBlock;
  let hi = lastBlock + 1;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const info = market.blockInfo(mid);
    if (info && info.firstTradeId + info.trades <= tradeId) lo = mid + 1;
    else hi = mid;
  }
  return lo <= lastBlock ? lo : null;
}

/** Up to `limit` trades with id >= `fromId` and time < `untilMs`, ascending by id. */
export function tradesFromId(
  market: SymbolMarket,
  fromId: number,
  untilMs: number,
  limit: number,
): SimTrade[] {
  const out: SimTrade[] = [];
  if (untilMs <= market.originMs || limit <= 0) return out;
  const lastBlock = blockOf(untilMs - 1);
  const first = blockOfTradeId(market, fromId, lastBlock);
  if (first === null) return out;
  for (let block = first; block <= lastBlock; block++) {
    // Quiet minutes have no trade; skip them without generating anything.
    if ((market.blockInfo(block)?.trades ?? 0) === 0) continue;
    const trades = market.blockTrades(block);
    if (!trades) continue;
    for (let i = Math.max(0, fromId - trades.firstTradeId); i < trades.count; i++) {
      if ((trades.timeMs[i] ?? 0) >= untilMs || out.length >= limit) return out;
      out.push(tradeAt(trades, i));
    }
  }
  return out;
}

/** The `limit` most recent trades with time < `untilMs`, ascending by id. */
export function latestTrades(market: SymbolMarket, untilMs: number, limit: number): SimTrade[] {
  if (untilMs <= market.originMs || limit <= 0) return [];
  const lastBlock = blockOf(untilMs - 1);
  const trades = market.blockTrades(lastBlock);
  const origin = market.blockInfo(market.originBlock);
  if (!trades || !origin) return [];
  // Ids are contiguous across blocks, so the trade before this block's first is the previous
  // block's last even when this one has none before `untilMs`.
  const lastId = trades.firstTradeId + lowerBound(trades.timeMs, trades.count, untilMs) - 1;
  if (lastId < origin.firstTradeId) return [];
  return tradesFromId(market, Math.max(origin.firstTradeId, lastId - limit + 1), untilMs, limit);
}
