/**
 * Which symbol the k-th trade of the market-shaped benchmark is on: trades spread over the
 * symbols by Zipf's law (the symbol of rank r gets a share proportional to 1 / (r + 1)), as trading
 * concentrates on a spot exchange: of 2,000 symbols the first takes 12 % of the trades, the first
 * 10 36 %, the first 100 64 %, the last ones a trade every few seconds at 5,000 trades/s. The
 * sequence is deterministic and evenly mixed (a golden-ratio sequence through the inverse of the
 * cumulative shares), so every run sends the same trades.
 */
const GOLDEN = (Math.sqrt(5) - 1) / 2;

export class TradeSpread {
  private readonly cumulative: Float64Array;

  constructor(symbols: number) {
    this.cumulative = new Float64Array(symbols);
    let total = 0;
    for (let r = 0; r < symbols; r++) {
      total += 1 / (r + 1);
      this.cumulative[r] = total;
    }
    for (let r = 0; r < symbols; r++) this.cumulative[r] = (this.cumulative[r] ?? 0) / total;
  }

  /** The share of all trades on the symbol of rank `r`. */
  share(r: number): number {
    return (this.cumulative[r] ?? 1) - (r > 0 ? (this.cumulative[r - 1] ?? 0) : 0);
  }

  /** The symbol index of the k-th trade. */
  symbolOf(k: number): number {
    const u = (k * GOLDEN) % 1;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cumulative[mid] ?? 1) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
