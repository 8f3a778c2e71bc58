import { hashString } from './seeded-random.js';

/**
 * What the market model needs to know about one symbol. Tick and lot sizes are powers of ten
 * (as on Binance for the pairs we simulate), so prices are whole ticks and quantities whole lots.
 */
export interface SymbolSpec {
  /** Upper case: `BTCUSDT`. */
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  /** Price tick is `10^-tickDecimals`. */
  readonly tickDecimals: number;
  /** Quantity step is `10^-lotDecimals`. */
  readonly lotDecimals: number;
  /** Long-run reference price the process starts at and is weakly pulled back to. */
  readonly referencePrice: number;
  /** Mean taker orders per second in the normal regime. */
  readonly ordersPerSecond: number;
  /** Standard deviation of the one-minute log return in the normal regime. */
  readonly volatilityPerMinute: number;
  /** Mean quantity of one fill, in base units. */
  readonly meanQuantity: number;
}

const KNOWN: Readonly<Record<string, Omit<SymbolSpec, 'symbol'>>> = {
  BTCUSDT: {
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    tickDecimals: 2,
    lotDecimals: 5,
    referencePrice: 65_000,
    ordersPerSecond: 2,
    volatilityPerMinute: 0.0008,
    meanQuantity: 0.015,
  },
  ETHUSDT: {
    baseAsset: 'ETH',
    quoteAsset: 'USDT',
    tickDecimals: 2,
    lotDecimals: 4,
    referencePrice: 3_400,
    ordersPerSecond: 1.5,
    volatilityPerMinute: 0.001,
    meanQuantity: 0.3,
  },
  BNBBTC: {
    baseAsset: 'BNB',
    quoteAsset: 'BTC',
    tickDecimals: 6,
    lotDecimals: 3,
    referencePrice: 0.0085,
    ordersPerSecond: 0.25,
    volatilityPerMinute: 0.0009,
    meanQuantity: 1.5,
  },
};

/** Quote assets recognised when splitting an unknown symbol, longest first. */
const QUOTES = ['FDUSD', 'USDT', 'USDC', 'TUSD', 'BUSD', 'EUR', 'TRY', 'BRL', 'BTC', 'ETH', 'BNB', 'DAI'];

/**
 * The spec for a symbol: hand-tuned for BTCUSDT, ETHUSDT and BNBBTC, derived from a hash of the
 * name for any other (a stable price between 0.05 and 500 quote units, ticks giving about six
 * significant digits, a modest trade rate).
 */
export function symbolSpec(symbolName: string): SymbolSpec {
  const symbol = symbolName.toUpperCase();
  const known = KNOWN[symbol];
  if (known) return { symbol, ...known };
  const quoteAsset = QUOTES.find((q) => symbol.endsWith(q) && symbol.length > q.length) ?? 'USDT';
  const baseAsset = symbol.endsWith(quoteAsset) ? symbol.slice(0, symbol.length - quoteAsset.length) : symbol;
  const h = hashString(symbol);
  const btcQuoted = quoteAsset === 'BTC' || quoteAsset === 'ETH' || quoteAsset === 'BNB';
  const magnitude = (h % 10_000) / 10_000; // [0,1)
  const referencePrice = btcQuoted ? 10 ** (-5 + 3 * magnitude) : 10 ** (-1.3 + 4 * magnitude);
  const tickDecimals = Math.min(8, Math.max(0, 5 - Math.floor(Math.log10(referencePrice))));
  // About 20 quote-dollar-equivalents per fill; lots sized so a fill is hundreds of lots.
  const meanQuantity = (btcQuoted ? 0.0004 : 20) / referencePrice;
  const lotDecimals = Math.min(8, Math.max(0, 2 - Math.floor(Math.log10(meanQuantity))));
  return {
    symbol,
    baseAsset,
    quoteAsset,
    tickDecimals,
    lotDecimals,
    referencePrice,
    ordersPerSecond: 0.5,
    volatilityPerMinute: 0.0012,
    meanQuantity,
  };
}
