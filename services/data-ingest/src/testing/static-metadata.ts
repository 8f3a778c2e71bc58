import type { BinanceExchangeInfo } from '@visualgo/contracts';
import type { ExchangeMetadata } from '../binance/exchange-metadata.js';

/** An exchange whose clock stands at `serverTimeMs` and that lists `symbols`, for edge tests. */
export function staticMetadata(
  symbols: readonly string[],
  serverTimeMs = 1_700_000_000_000,
): ExchangeMetadata {
  const info: BinanceExchangeInfo = {
    timezone: 'UTC',
    serverTime: serverTimeMs,
    rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 }],
    exchangeFilters: [],
    symbols: symbols.map((symbol) => ({
      symbol,
      status: 'TRADING',
      baseAsset: symbol.slice(0, 3),
      quoteAsset: symbol.slice(3),
      baseAssetPrecision: 8,
      quoteAssetPrecision: 8,
      filters: [
        {
          filterType: 'PRICE_FILTER',
          minPrice: '0.01000000',
          maxPrice: '1000000.00000000',
          tickSize: '0.01000000',
        },
      ],
    })),
  };
  return {
    exchangeInfo: async (wanted) => ({ ...info, symbols: info.symbols.filter((s) => wanted.has(s.symbol)) }),
    serverTime: async () => serverTimeMs,
  };
}
