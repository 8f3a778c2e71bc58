import { HistoryUnavailable } from '@visualgo/bus';
import { type BinanceRestError, toBinanceKlineRow } from '@visualgo/contracts';
import { type Candle, isInterval, klineStreamName } from '@visualgo/market';
import { HttpError, type RouteHandler, sendJson } from '@visualgo/platform';
import type { IngestView } from '../hub/ingest-view.js';

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 1000;
const DIGITS = /^[0-9]{1,20}$/;
const SYMBOL = /^[A-Z0-9\-_.]{1,20}$/;

function binanceError(code: number, msg: string): HttpError {
  const body: BinanceRestError = { code, msg };
  return new HttpError(400, msg, body);
}

function mandatory(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  if (value === null || value === '') {
    throw binanceError(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
  }
  return value;
}

function optionalInteger(url: URL, name: string): number | undefined {
  const value = url.searchParams.get(name);
  if (value === null || value === '') return undefined;
  if (!DIGITS.test(value)) {
    throw binanceError(
      -1100,
      `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`,
    );
  }
  return Number(value);
}

/**
 * `GET /api/v3/klines?symbol=&interval=&startTime=&endTime=&limit=` from the hub's history, as
 * Binance answers it: oldest first, the first `limit` from `startTime` or else the last `limit`
 * up to `endTime`, with the still-open candle as the last row when it is in range. `limit`
 * defaults to 500 and is capped at 1000 like Binance; errors are Binance's `{"code","msg"}` with 400.
 */
export function klinesRoute(view: IngestView): RouteHandler {
  return async (_req, url, res) => {
    const symbol = mandatory(url, 'symbol').toUpperCase();
    if (!SYMBOL.test(symbol)) {
      throw binanceError(
        -1100,
        "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
      );
    }
    const interval = mandatory(url, 'interval');
    const startTimeMs = optionalInteger(url, 'startTime');
    const endTimeMs = optionalInteger(url, 'endTime');
    const requestedLimit = optionalInteger(url, 'limit');
    const served = view.streams().filter((d) => d.kind === 'kline' && d.symbol === symbol);
    if (served.length === 0) throw binanceError(-1121, 'Invalid symbol.');
    if (!isInterval(interval)) throw binanceError(-1120, 'Invalid interval.');
    const stream = klineStreamName(symbol, interval);
    if (!view.hasStream(stream)) {
      const intervals = served.map((d) => (d.kind === 'kline' ? d.interval : '')).join(', ');
      throw binanceError(-1120, `Invalid interval. This service serves ${symbol} klines for: ${intervals}.`);
    }
    if (requestedLimit !== undefined && requestedLimit < 1) {
      throw binanceError(-1130, "Data sent for parameter 'limit' is not valid.");
    }
    if (startTimeMs !== undefined && endTimeMs !== undefined && startTimeMs > endTimeMs) {
      throw binanceError(-1023, 'Start time is greater than end time.');
    }
    const limit = Math.min(requestedLimit ?? DEFAULT_LIMIT, MAX_LIMIT);
    // Until the start-up history is in, what is held is not what the exchange has: an empty or
    // short answer would tell a client filling a gap that there was nothing (gRPC answers
    // UNAVAILABLE here for the same reason).
    if (!view.isHistoryLoaded()) {
      const body: BinanceRestError = { code: -1001, msg: 'History is still loading; retry shortly.' };
      throw new HttpError(503, body.msg, body);
    }
    let candles: Candle[];
    try {
      candles = [...(await view.candles(stream, { startTimeMs, endTimeMs, limit }))];
    } catch (err) {
      if (!(err instanceof HistoryUnavailable)) throw err;
      // Binance answers an upstream failure with 5xx and its error shape.
      const body: BinanceRestError = {
        code: -1003,
        msg: 'History before the data this service holds is unavailable right now; retry later.',
      };
      throw new HttpError(503, body.msg, body);
    }
    const open = view.openCandle(stream);
    const lastClosed = candles.at(-1);
    if (
      open &&
      !open.closed &&
      (lastClosed === undefined || open.openTimeMs > lastClosed.openTimeMs) &&
      (startTimeMs === undefined || open.openTimeMs >= startTimeMs) &&
      (endTimeMs === undefined || open.openTimeMs <= endTimeMs)
    ) {
      candles.push(open);
    }
    // Anchored at the start the open candle only fits below the limit; anchored at the end it pushes out the oldest.
    const kept = candles.filter((c) => c.closed);
    const rows = (startTimeMs === undefined ? candles.slice(-limit) : candles.slice(0, limit)).map(
      toBinanceKlineRow,
    );
    sendJson(res, 200, rows, await partialHeaders(view, stream, { startTimeMs, endTimeMs, limit }, kept));
  };
}

/**
 * On a view with a history floor, headers that say the answer is cut short by it: the request
 * reaches further back than the oldest candle kept (`X-History-Partial: true`, and
 * `X-History-Oldest-Open-Time` when any is kept). Binance's body is unchanged.
 */
async function partialHeaders(
  view: IngestView,
  stream: string,
  query: { startTimeMs: number | undefined; endTimeMs: number | undefined; limit: number },
  closed: readonly Candle[],
): Promise<Record<string, string>> {
  if (!view.oldestKeptOpenTimeMs) return {};
  const first = closed[0];
  const { startTimeMs, endTimeMs, limit } = query;
  // Only an answer that starts later than asked, or has fewer rows than asked, may be cut.
  const short =
    startTimeMs === undefined ? closed.length < limit : first === undefined || first.openTimeMs > startTimeMs;
  if (!short) return {};
  let oldest: number | null;
  try {
    oldest = await view.oldestKeptOpenTimeMs(stream);
  } catch {
    return {};
  }
  if (oldest === null) return { 'x-history-partial': 'true' };
  const cut =
    startTimeMs === undefined ? endTimeMs === undefined || endTimeMs >= oldest : startTimeMs < oldest;
  return cut ? { 'x-history-partial': 'true', 'x-history-oldest-open-time': String(oldest) } : {};
}
