import type { BinanceRestError } from '@visualgo/contracts';
import { HttpError, type RouteHandler, sendJson } from '@visualgo/platform';
import type { ExchangeMetadata } from '../binance/exchange-metadata.js';
import type { IngestView } from '../hub/ingest-view.js';

const SYMBOL = /^[A-Z0-9\-_.]{1,20}$/;

function binanceError(status: number, code: number, msg: string): HttpError {
  const body: BinanceRestError = { code, msg };
  return new HttpError(status, msg, body);
}

/** `symbols=["BTCUSDT","ETHUSDT"]` as Binance takes it (a JSON array, URL-encoded). */
function parseSymbols(value: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((s) => typeof s === 'string')) {
    throw binanceError(
      400,
      -1100,
      'Illegal characters found in parameter \'symbols\'; legal range is \'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$\'.',
    );
  }
  return parsed.map((s) => s.toUpperCase());
}

/**
 * What a Binance client calls while it starts, answered as Binance does: `GET /api/v3/ping`,
 * `GET /api/v3/time` (the exchange's clock) and `GET /api/v3/exchangeInfo` (the upstream
 * exchange's, limited to the symbols this service serves; `symbol=` or `symbols=[...]` narrow it
 * further, and a symbol that is not served is `-1121 Invalid symbol.`).
 */
export function exchangeRoutes(view: IngestView, metadata: ExchangeMetadata): Record<string, RouteHandler> {
  const served = () => new Set(view.streams().map((d) => d.symbol));
  return {
    '/api/v3/ping': (_req, _url, res) => sendJson(res, 200, {}),
    '/api/v3/time': async (_req, _url, res) =>
      sendJson(res, 200, { serverTime: await metadata.serverTime() }),
    '/api/v3/exchangeInfo': async (_req, url, res) => {
      const all = served();
      const one = url.searchParams.get('symbol');
      const many = url.searchParams.get('symbols');
      if (one !== null && many !== null) {
        throw binanceError(400, -1106, "Parameter 'symbols' sent when not required.");
      }
      let wanted: string[] = [...all];
      if (one !== null) {
        const symbol = one.toUpperCase();
        if (!SYMBOL.test(symbol)) {
          throw binanceError(
            400,
            -1100,
            "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
          );
        }
        wanted = [symbol];
      } else if (many !== null) {
        wanted = parseSymbols(many);
      }
      if (wanted.some((s) => !all.has(s))) throw binanceError(400, -1121, 'Invalid symbol.');
      let info: Awaited<ReturnType<ExchangeMetadata['exchangeInfo']>>;
      try {
        info = await metadata.exchangeInfo(new Set(wanted));
      } catch {
        throw binanceError(503, -1003, 'The exchange information is unavailable right now; retry later.');
      }
      sendJson(res, 200, info);
    },
  };
}
