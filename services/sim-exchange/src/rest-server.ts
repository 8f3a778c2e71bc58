import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Interval, isInterval } from '@visualgo/market';
import { historicalTrade, klineRow } from './binance-format.js';
import type { RestFaultMode, RestFaultSpec, RestFaults } from './faults.js';
import { stepString } from './fixed-point.js';
import type { MarketSource } from './market-source.js';
import type { RequestWeight } from './request-weight.js';
import { type SimLogger, silentLogger } from './sim-logger.js';

/** Request weights of the endpoints we serve, as Binance assigns them. */
export const ENDPOINT_WEIGHT = {
  '/api/v3/ping': 1,
  '/api/v3/time': 1,
  '/api/v3/exchangeInfo': 20,
  '/api/v3/klines': 2,
  '/api/v3/trades': 25,
  '/api/v3/historicalTrades': 25,
} as const;

type Endpoint = keyof typeof ENDPOINT_WEIGHT;
export type RestPath = Endpoint;

/** Hooks for counting REST traffic; `SimMetrics` implements them for Prometheus. */
export interface RestMetrics {
  /** Every answered request; paths we do not serve are `other`. */
  restRequest(path: RestPath | 'other', status: number): void;
  /** Requests refused by the request-weight limit. */
  weightRejected(status: 429 | 418): void;
  /** Requests an injected fault answered (or cut, or held). */
  restFaultApplied(mode: RestFaultMode): void;
}

const noMetrics: RestMetrics = {
  restRequest: () => {},
  weightRejected: () => {},
  restFaultApplied: () => {},
};

function isEndpoint(path: string): path is Endpoint {
  return Object.hasOwn(ENDPOINT_WEIGHT, path);
}

export const KLINES_DEFAULT_LIMIT = 500;
export const KLINES_MAX_LIMIT = 1000;
export const TRADES_DEFAULT_LIMIT = 500;
export const TRADES_MAX_LIMIT = 1000;

export interface RestApiDeps {
  /** The exchange's symbols (upper case) and their markets. */
  readonly universe: ReadonlyMap<string, MarketSource>;
  readonly marketNowMs: () => number;
  readonly weights: RequestWeight;
  readonly faults: RestFaults;
  readonly logger?: SimLogger;
  readonly metrics?: RestMetrics;
}

class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const mandatory = (name: string) =>
  new RestError(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
const invalid = (name: string) =>
  new RestError(400, -1130, `Data sent for parameter '${name}' is not valid.`);

/**
 * Binance Spot public REST: ping, time, exchangeInfo, klines, recent and historical trades, with
 * request weight and faults.
 */
export class RestApi {
  private readonly held = new Set<ServerResponse>();
  private readonly log: SimLogger;
  private readonly metrics: RestMetrics;

  constructor(private readonly deps: RestApiDeps) {
    this.log = (deps.logger ?? silentLogger).child({ component: 'rest' });
    this.metrics = deps.metrics ?? noMetrics;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const path = url.pathname;
    const label = isEndpoint(path) ? path : 'other';
    const send = (status: number, body: unknown, headers: Record<string, string>): void => {
      this.metrics.restRequest(label, status);
      sendJson(res, status, body, headers);
    };
    const fault = this.deps.faults.take(path);
    if (fault) {
      this.metrics.restFaultApplied(fault.mode);
      this.applyFault(fault, req, res, send);
      return;
    }
    if (!isEndpoint(path)) {
      send(404, { code: -1, msg: `No endpoint ${path} on the simulated exchange.` }, {});
      return;
    }
    if (req.method !== 'GET') {
      send(405, { code: -1, msg: `Method ${req.method ?? ''} not allowed.` }, {});
      return;
    }
    const ip = req.socket.remoteAddress ?? '';
    const decision = this.deps.weights.charge(ip, ENDPOINT_WEIGHT[path]);
    const headers = {
      'X-MBX-USED-WEIGHT-1M': String(decision.used),
      'X-MBX-USED-WEIGHT': String(decision.used),
    };
    if (decision.kind === 'limited') {
      this.metrics.weightRejected(429);
      send(
        429,
        {
          code: -1003,
          msg: `Too much request weight used; current limit is ${this.deps.weights.limitPerMinute} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`,
        },
        { ...headers, 'Retry-After': String(decision.retryAfterSec) },
      );
      return;
    }
    if (decision.kind === 'banned') {
      this.metrics.weightRejected(418);
      send(
        418,
        {
          code: -1003,
          msg: `Way too much request weight used; IP banned until ${decision.untilMs}. Please use WebSocket Streams for live updates to avoid bans.`,
        },
        { ...headers, 'Retry-After': String(decision.retryAfterSec) },
      );
      return;
    }
    try {
      send(200, this.route(path, url.searchParams), headers);
    } catch (err) {
      if (err instanceof RestError) {
        send(err.status, { code: err.code, msg: err.message }, headers);
        return;
      }
      this.log.error({ err, path }, 'REST handler failed');
      send(500, { code: -1000, msg: 'An unknown error occurred while processing the request.' }, headers);
    }
  }

  /** Ends requests held open by a `timeout` fault. */
  close(): void {
    for (const res of this.held) res.socket?.destroy();
    this.held.clear();
  }

  private route(path: Endpoint, params: URLSearchParams): unknown {
    switch (path) {
      case '/api/v3/ping':
        return {};
      case '/api/v3/time':
        return { serverTime: this.deps.marketNowMs() };
      case '/api/v3/exchangeInfo':
        return this.exchangeInfo(params);
      case '/api/v3/klines':
        return this.klines(params);
      case '/api/v3/trades':
        return this.trades(params, false);
      case '/api/v3/historicalTrades':
        return this.trades(params, true);
    }
  }

  private exchangeInfo(params: URLSearchParams): unknown {
    let symbols = [...this.deps.universe.keys()];
    const one = params.get('symbol');
    const many = params.get('symbols');
    if (one !== null) symbols = [one];
    else if (many !== null) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(many);
      } catch {
        throw new RestError(
          400,
          -1100,
          'Illegal characters found in parameter \'symbols\'; legal range is \'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$\'.',
        );
      }
      if (!Array.isArray(parsed) || !parsed.every((s): s is string => typeof s === 'string')) {
        throw new RestError(400, -1100, "Illegal characters found in parameter 'symbols'.");
      }
      symbols = parsed;
    }
    const entries = symbols.map((s) => {
      const source = this.deps.universe.get(s);
      if (!source) throw new RestError(400, -1121, 'Invalid symbol.');
      const spec = source.format;
      return {
        symbol: spec.symbol,
        status: 'TRADING',
        baseAsset: spec.baseAsset,
        baseAssetPrecision: 8,
        quoteAsset: spec.quoteAsset,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        baseCommissionPrecision: 8,
        quoteCommissionPrecision: 8,
        orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
        icebergAllowed: true,
        ocoAllowed: true,
        otoAllowed: true,
        quoteOrderQtyMarketAllowed: true,
        allowTrailingStop: true,
        cancelReplaceAllowed: true,
        isSpotTradingAllowed: true,
        isMarginTradingAllowed: false,
        filters: [
          {
            filterType: 'PRICE_FILTER',
            minPrice: stepString(spec.tickDecimals),
            maxPrice: '1000000.00000000',
            tickSize: stepString(spec.tickDecimals),
          },
          {
            filterType: 'LOT_SIZE',
            minQty: stepString(spec.lotDecimals),
            maxQty: '9000.00000000',
            stepSize: stepString(spec.lotDecimals),
          },
        ],
        permissions: [],
        permissionSets: [['SPOT']],
        defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
        allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
      };
    });
    return {
      timezone: 'UTC',
      serverTime: this.deps.marketNowMs(),
      rateLimits: [
        {
          rateLimitType: 'REQUEST_WEIGHT',
          interval: 'MINUTE',
          intervalNum: 1,
          limit: this.deps.weights.limitPerMinute,
        },
        { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
        { rateLimitType: 'ORDERS', interval: 'DAY', intervalNum: 1, limit: 200000 },
        { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
      ],
      exchangeFilters: [],
      symbols: entries,
    };
  }

  private klines(params: URLSearchParams): unknown {
    const symbol = symbolParam(params);
    const intervalText = params.get('interval');
    if (!intervalText) throw mandatory('interval');
    if (!isInterval(intervalText)) throw new RestError(400, -1120, 'Invalid interval.');
    const interval: Interval = intervalText;
    const startTime = integerParam(params, 'startTime');
    const endTime = integerParam(params, 'endTime');
    const limitParam = integerParam(params, 'limit');
    const source = this.deps.universe.get(symbol);
    if (!source) throw new RestError(400, -1121, 'Invalid symbol.');
    // A replay without files of this interval: refused like an interval Binance does not know.
    if (!source.serves({ kind: 'kline', symbol, interval })) {
      throw new RestError(400, -1120, 'Invalid interval.');
    }
    if (startTime !== null && endTime !== null && startTime > endTime) {
      throw new RestError(400, -1023, 'Start time is greater than end time.');
    }
    const limit = Math.min(KLINES_MAX_LIMIT, Math.max(1, limitParam ?? KLINES_DEFAULT_LIMIT));
    const now = this.deps.marketNowMs();
    const toOpen = endTime ?? now;
    // With startTime: from there on; without: the `limit` most recent ending at endTime (or now).
    const candles =
      startTime !== null
        ? source.candles(interval, startTime, toOpen, now, limit)
        : source.latestCandles(interval, toOpen, now, limit);
    return candles.map(klineRow);
  }

  /**
   * Trades the streams have already sent (time before the current market time), ascending by
   * id: from `fromId` on (historicalTrades only), else the most recent ones. No API key needed.
   */
  private trades(params: URLSearchParams, acceptsFromId: boolean): unknown {
    const symbol = symbolParam(params);
    const limitParam = integerParam(params, 'limit');
    if (limitParam === 0) throw invalid('limit');
    const limit = Math.min(TRADES_MAX_LIMIT, limitParam ?? TRADES_DEFAULT_LIMIT);
    const fromId = acceptsFromId ? integerParam(params, 'fromId') : null;
    if (fromId !== null && !Number.isSafeInteger(fromId)) throw invalid('fromId');
    const source = this.deps.universe.get(symbol);
    // A replay symbol without trade files: refused like a symbol Binance does not list.
    if (!source?.hasTrades) throw new RestError(400, -1121, 'Invalid symbol.');
    const now = this.deps.marketNowMs();
    const trades =
      fromId === null ? source.latestTrades(now, limit) : source.tradesFromId(fromId, now, limit);
    return trades.map((t) => historicalTrade(source.format, t));
  }

  private applyFault(
    fault: RestFaultSpec,
    req: IncomingMessage,
    res: ServerResponse,
    send: (status: number, body: unknown, headers: Record<string, string>) => void,
  ): void {
    this.log.debug({ mode: fault.mode, path: req.url }, 'injecting a REST fault');
    const retryAfter = String(fault.retryAfterSec ?? 1);
    const ip = req.socket.remoteAddress ?? '';
    const used = String(this.deps.weights.used(ip));
    const weightHeaders = { 'X-MBX-USED-WEIGHT-1M': used, 'X-MBX-USED-WEIGHT': used };
    switch (fault.mode) {
      case '429':
        send(
          429,
          {
            code: -1003,
            msg: 'Too much request weight used; current limit is exceeded. Please use WebSocket Streams for live updates to avoid polling the API.',
          },
          { ...weightHeaders, 'Retry-After': retryAfter },
        );
        return;
      case '418':
        send(
          418,
          {
            code: -1003,
            msg: `Way too much request weight used; IP banned until ${Date.now() + Number(retryAfter) * 1000}. Please use WebSocket Streams for live updates to avoid bans.`,
          },
          { ...weightHeaders, 'Retry-After': retryAfter },
        );
        return;
      case '500':
        send(
          500,
          { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' },
          weightHeaders,
        );
        return;
      case '503':
        send(
          503,
          {
            code: -1008,
            msg: 'Server is currently overloaded with other requests. Please try again in a few minutes.',
          },
          weightHeaders,
        );
        return;
      case 'timeout':
        this.held.add(res);
        res.on('close', () => this.held.delete(res));
        return;
      case 'reset':
        req.socket.destroy();
        return;
    }
  }
}

function symbolParam(params: URLSearchParams): string {
  const symbol = params.get('symbol');
  if (!symbol) throw mandatory('symbol');
  if (!/^[A-Z0-9-_.]{1,20}$/.test(symbol)) {
    throw new RestError(
      400,
      -1100,
      "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
    );
  }
  return symbol;
}

function integerParam(params: URLSearchParams, name: string): number | null {
  const raw = params.get(name);
  if (raw === null || raw === '') return null;
  if (!/^[0-9]{1,20}$/.test(raw)) {
    throw new RestError(
      400,
      -1100,
      `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`,
    );
  }
  return Number(raw);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string>,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json;charset=UTF-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
