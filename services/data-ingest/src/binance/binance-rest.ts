/**
 * Binance Spot public REST client for what ingestion needs: server time, klines and historical
 * trades, one page or a paged range. Every response is validated; request weight is tracked from
 * `X-MBX-USED-WEIGHT-1M` and requests pause before reaching Binance's limit; 429/418 honour
 * `Retry-After`; server errors, timeouts and network errors are retried with backoff.
 */
import {
  type BinanceExchangeInfo,
  type BinanceHistoricalTrade,
  type BinanceKlineRow,
  binanceExchangeInfo,
  binanceHistoricalTrades,
  binanceKlineRows,
  binanceRestError,
  binanceServerTime,
} from '@visualgo/contracts';
import { type ExchangeId, type Interval, nextOpenTimeMs } from '@visualgo/market';
import { Backoff, type BackoffOptions, type Logger, sleep } from '@visualgo/platform';
import type { z } from 'zod';

export type BinanceRestErrorKind =
  /** Binance rejected the request (4xx), usually with its `{code,msg}` body. Not retried. */
  | 'rejected'
  /** 429/418 with a `Retry-After` beyond `maxRetryAfterMs`, or still limited after every attempt. */
  | 'rate-limited'
  /** 5xx after every attempt. */
  | 'server'
  /** No response within `requestTimeoutMs`, after every attempt. */
  | 'timeout'
  /** DNS failure, refused or reset connection, TLS failure, after every attempt. */
  | 'network'
  /** A 2xx body that is not what the schema allows. */
  | 'invalid-response';

export interface BinanceRestErrorDetails {
  readonly kind: BinanceRestErrorKind;
  readonly attempts: number;
  readonly status?: number;
  /** Binance error code from the body (`-1121` invalid symbol, ...). */
  readonly code?: number;
  readonly retryAfterMs?: number;
}

export class BinanceRestError extends Error {
  override readonly name = 'BinanceRestError';
  readonly kind: BinanceRestErrorKind;
  readonly attempts: number;
  readonly status: number | undefined;
  readonly code: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: BinanceRestErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = details.kind;
    this.attempts = details.attempts;
    this.status = details.status;
    this.code = details.code;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export interface BinanceRestClientOptions {
  /** `https://api.binance.com`, or the simulated exchange's `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  readonly exchange: ExchangeId;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  /** Binance Spot's `REQUEST_WEIGHT` limit per minute. Default 6000. */
  readonly maxWeightPerMinute?: number;
  /** Share of the limit this client allows itself before pausing until the next minute. Default 0.8. */
  readonly weightBudgetFraction?: number;
  /** Per attempt. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** Attempts per request, counting the first. Default 5. */
  readonly maxAttempts?: number;
  /** A `Retry-After` longer than this fails the request instead of waiting. Default 120 000. */
  readonly maxRetryAfterMs?: number;
  readonly backoff?: BackoffOptions;
  readonly now?: () => number;
}

export interface KlinesQuery {
  /** Either case; sent upper case. */
  readonly symbol: string;
  readonly interval: Interval;
  /** Rows with open time ≥ startTime. */
  readonly startTime?: number;
  /** Rows with open time ≤ endTime. */
  readonly endTime?: number;
  /** 1..1000, Binance's default 500. */
  readonly limit?: number;
}

export interface KlinesRangeQuery {
  readonly symbol: string;
  readonly interval: Interval;
  /** Inclusive bounds on open time. */
  readonly fromOpenTimeMs: number;
  readonly toOpenTimeMs: number;
  /** Stop after this many rows (the first ones of the range). */
  readonly maxRows?: number;
}

export interface BinanceRestStats {
  readonly requests: number;
  readonly retries: number;
  readonly rateLimited: number;
  /** Last `X-MBX-USED-WEIGHT-1M` seen (or estimated), for the current minute. */
  readonly usedWeight: number;
}

/** Binance Spot weights: `GET /api/v3/klines` costs 2, `GET /api/v3/time` 1, `exchangeInfo` 20. */
const KLINES_WEIGHT = 2;
const EXCHANGE_INFO_WEIGHT = 20;
/** `GET /api/v3/historicalTrades` weight on Binance Spot. */
const HISTORICAL_TRADES_WEIGHT = 25;
const MAX_TRADES_LIMIT = 1000;
const TIME_WEIGHT = 1;
const MAX_KLINES_LIMIT = 1000;
const MINUTE_MS = 60_000;
const DEFAULT_RETRY_AFTER_MS = 60_000;

class RetryableFailure extends Error {
  constructor(
    readonly kind: BinanceRestErrorKind,
    message: string,
    readonly status?: number,
    readonly waitMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class BinanceRestClient {
  private readonly baseUrl: string;
  private readonly logger: Logger;
  private readonly fetchFn: typeof fetch;
  private readonly maxWeight: number;
  private readonly weightBudget: number;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly maxRetryAfterMs: number;
  private readonly backoffOptions: BackoffOptions;
  private readonly now: () => number;

  private usedWeight = 0;
  private usedWeightMinute = -1;
  private inFlightWeight = 0;
  /** Set by a 429/418: every request waits until then. */
  private blockedUntilMs = 0;
  private counters = { requests: 0, retries: 0, rateLimited: 0 };

  readonly exchange: ExchangeId;

  constructor(options: BinanceRestClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.exchange = options.exchange;
    this.logger = options.logger;
    this.fetchFn = options.fetch ?? fetch;
    this.maxWeight = options.maxWeightPerMinute ?? 6000;
    this.weightBudget = Math.floor(this.maxWeight * (options.weightBudgetFraction ?? 0.8));
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
    this.backoffOptions = options.backoff ?? { initialMs: 500, maxMs: 15_000 };
    this.now = options.now ?? Date.now;
    // Fail fast on a malformed base URL: it is configuration, not a network condition.
    new URL(this.baseUrl);
  }

  stats(): BinanceRestStats {
    return { ...this.counters, usedWeight: this.currentWeight() };
  }

  /** `GET /api/v3/time`: the server's clock in ms. */
  async serverTime(signal?: AbortSignal): Promise<number> {
    const body = await this.request(
      '/api/v3/time',
      new URLSearchParams(),
      TIME_WEIGHT,
      binanceServerTime,
      signal,
    );
    return body.serverTime;
  }

  /** `GET /api/v3/exchangeInfo`: every symbol, with Binance's fields kept as they came. */
  async exchangeInfo(signal?: AbortSignal): Promise<BinanceExchangeInfo> {
    return this.request(
      '/api/v3/exchangeInfo',
      new URLSearchParams(),
      EXCHANGE_INFO_WEIGHT,
      binanceExchangeInfo,
      signal,
    );
  }

  /** One page of `GET /api/v3/klines`, ascending by open time. */
  async klines(query: KlinesQuery, signal?: AbortSignal): Promise<readonly BinanceKlineRow[]> {
    const params = new URLSearchParams({ symbol: query.symbol.toUpperCase(), interval: query.interval });
    if (query.startTime !== undefined) params.set('startTime', String(query.startTime));
    if (query.endTime !== undefined) params.set('endTime', String(query.endTime));
    if (query.limit !== undefined) {
      if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_KLINES_LIMIT) {
        throw new RangeError(`klines limit must be an integer in 1..${MAX_KLINES_LIMIT}`);
      }
      params.set('limit', String(query.limit));
    }
    return this.request('/api/v3/klines', params, KLINES_WEIGHT, binanceKlineRows, signal);
  }

  /**
   * Every kline with open time in [fromOpenTimeMs, toOpenTimeMs], paging forward 1000 rows at a
   * time (next startTime = last open time + interval) until the range is covered or Binance
   * returns a short page. Rows are ascending and unique by open time. Includes the still-open
   * candle if the range reaches it: callers decide what counts as closed.
   */
  async klinesRange(query: KlinesRangeQuery, signal?: AbortSignal): Promise<readonly BinanceKlineRow[]> {
    const out: BinanceKlineRow[] = [];
    const maxRows = query.maxRows ?? Number.POSITIVE_INFINITY;
    let startTime = query.fromOpenTimeMs;
    while (startTime <= query.toOpenTimeMs && out.length < maxRows) {
      const page = await this.klines(
        {
          symbol: query.symbol,
          interval: query.interval,
          startTime,
          endTime: query.toOpenTimeMs,
          limit: Math.min(MAX_KLINES_LIMIT, Math.max(1, maxRows - out.length)),
        },
        signal,
      );
      let lastOpen = out.at(-1)?.[0] ?? Number.NEGATIVE_INFINITY;
      for (const row of page) {
        const openTime = row[0];
        if (openTime > lastOpen && openTime >= query.fromOpenTimeMs && openTime <= query.toOpenTimeMs) {
          out.push(row);
          lastOpen = openTime;
        }
      }
      const pageLast = page.at(-1)?.[0];
      if (page.length < MAX_KLINES_LIMIT || pageLast === undefined || out.length >= maxRows) break;
      const next = nextOpenTimeMs(query.interval, pageLast);
      if (next <= startTime) break; // no progress: a misbehaving server must not loop us forever
      startTime = next;
    }
    return out;
  }

  /** One page of `GET /api/v3/historicalTrades`: up to `limit` trades from id `fromId`, ascending. */
  async historicalTrades(
    query: { readonly symbol: string; readonly fromId: number; readonly limit?: number },
    signal?: AbortSignal,
  ): Promise<readonly BinanceHistoricalTrade[]> {
    const limit = query.limit ?? MAX_TRADES_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TRADES_LIMIT) {
      throw new RangeError(`historicalTrades limit must be an integer in 1..${MAX_TRADES_LIMIT}`);
    }
    const params = new URLSearchParams({
      symbol: query.symbol.toUpperCase(),
      fromId: String(query.fromId),
      limit: String(limit),
    });
    return this.request(
      '/api/v3/historicalTrades',
      params,
      HISTORICAL_TRADES_WEIGHT,
      binanceHistoricalTrades,
      signal,
    );
  }

  /**
   * Every trade with id in [fromId, toId], paging forward 1000 at a time until the range is
   * covered or the exchange has no more (a short page). Ascending and unique by id.
   */
  async tradesRange(
    query: { readonly symbol: string; readonly fromId: number; readonly toId: number },
    signal?: AbortSignal,
  ): Promise<readonly BinanceHistoricalTrade[]> {
    const out: BinanceHistoricalTrade[] = [];
    let fromId = query.fromId;
    while (fromId <= query.toId) {
      const limit = Math.min(MAX_TRADES_LIMIT, query.toId - fromId + 1);
      const page = await this.historicalTrades({ symbol: query.symbol, fromId, limit }, signal);
      for (const t of page) {
        if (t.id >= fromId && t.id <= query.toId && t.id > (out.at(-1)?.id ?? Number.NEGATIVE_INFINITY))
          out.push(t);
      }
      const last = page.at(-1)?.id;
      if (page.length < limit || last === undefined || last < fromId) break;
      fromId = last + 1;
    }
    return out;
  }

  private currentWeight(): number {
    return Math.floor(this.now() / MINUTE_MS) === this.usedWeightMinute ? this.usedWeight : 0;
  }

  /** Waits out a 429/418 block and, when the minute's budget is spent, the rest of the minute. */
  private async waitForCapacity(weight: number, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      const now = this.now();
      if (this.blockedUntilMs > now) {
        await sleep(this.blockedUntilMs - now, signal);
        continue;
      }
      const used = this.currentWeight() + this.inFlightWeight;
      // A request heavier than the whole budget still goes out once nothing else counts.
      if (used + weight <= this.weightBudget || used === 0) return;
      // Binance counts weight per clock minute; wait for the next one (plus a margin for skew).
      const waitMs = (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS - now + 250;
      this.logger.warn(
        { usedWeight: this.currentWeight(), budget: this.weightBudget, waitMs },
        'REST weight budget spent, pausing',
      );
      await sleep(waitMs, signal);
    }
  }

  private recordWeight(headers: Headers | undefined, weight: number): void {
    const minute = Math.floor(this.now() / MINUTE_MS);
    const header = headers?.get('x-mbx-used-weight-1m');
    const reported = header === null || header === undefined ? Number.NaN : Number(header);
    if (Number.isFinite(reported) && reported >= 0) {
      this.usedWeight = reported;
    } else {
      this.usedWeight = (this.usedWeightMinute === minute ? this.usedWeight : 0) + weight;
    }
    this.usedWeightMinute = minute;
  }

  private async request<S extends z.ZodType>(
    path: string,
    params: URLSearchParams,
    weight: number,
    schema: S,
    signal: AbortSignal | undefined,
  ): Promise<z.infer<S>> {
    const query = params.toString();
    const url = `${this.baseUrl}${path}${query ? `?${query}` : ''}`;
    const backoff = new Backoff(this.backoffOptions);
    let last: RetryableFailure | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) {
        this.counters.retries++;
        // A rate-limit block is waited out in waitForCapacity, shared with concurrent requests.
        const waitMs = last?.kind === 'rate-limited' ? 0 : backoff.next();
        this.logger.warn(
          { path, attempt, waitMs, reason: last?.message, status: last?.status },
          'REST request retrying',
        );
        await sleep(waitMs, signal);
      }
      await this.waitForCapacity(weight, signal);
      try {
        return await this.attempt(url, weight, schema, attempt, signal);
      } catch (error) {
        if (!(error instanceof RetryableFailure)) throw error;
        last = error;
        if (
          error.kind === 'rate-limited' &&
          error.waitMs !== undefined &&
          error.waitMs > this.maxRetryAfterMs
        ) {
          throw new BinanceRestError(
            `Binance asked to wait ${error.waitMs} ms (limit ${this.maxRetryAfterMs} ms): ${path}`,
            { kind: 'rate-limited', attempts: attempt, status: error.status, retryAfterMs: error.waitMs },
            { cause: error },
          );
        }
      }
    }
    const failure = last ?? new RetryableFailure('network', 'no attempt made');
    throw new BinanceRestError(
      `${path} failed after ${this.maxAttempts} attempts: ${failure.message}`,
      {
        kind: failure.kind,
        attempts: this.maxAttempts,
        status: failure.status,
        retryAfterMs: failure.waitMs,
      },
      { cause: failure.cause ?? failure },
    );
  }

  /** One HTTP exchange. Throws RetryableFailure for what a retry may fix, BinanceRestError otherwise. */
  private async attempt<S extends z.ZodType>(
    url: string,
    weight: number,
    schema: S,
    attempt: number,
    signal: AbortSignal | undefined,
  ): Promise<z.infer<S>> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    this.counters.requests++;
    this.inFlightWeight += weight;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(url, { signal: combined, headers: { accept: 'application/json' } });
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) {
        throw new RetryableFailure(
          'timeout',
          `no response within ${this.timeoutMs} ms`,
          undefined,
          undefined,
          {
            cause: error,
          },
        );
      }
      throw new RetryableFailure('network', describeNetworkError(error), undefined, undefined, {
        cause: error,
      });
    } finally {
      this.inFlightWeight -= weight;
    }
    this.recordWeight(response.headers, weight);
    const status = response.status;
    if (status === 429 || status === 418) {
      this.counters.rateLimited++;
      const waitMs = parseRetryAfterMs(response.headers.get('retry-after'), this.now());
      this.blockedUntilMs = Math.max(this.blockedUntilMs, this.now() + waitMs);
      this.logger.warn({ status, retryAfterMs: waitMs, url }, 'REST rate limited');
      throw new RetryableFailure('rate-limited', `HTTP ${status}`, status, waitMs);
    }
    if (status >= 500) throw new RetryableFailure('server', `HTTP ${status}`, status);
    if (status < 200 || status >= 300) {
      const body = parseJson(text);
      const binance = binanceRestError.safeParse(body);
      if (binance.success) {
        throw new BinanceRestError(`Binance rejected the request: ${binance.data.msg}`, {
          kind: 'rejected',
          attempts: attempt,
          status,
          code: binance.data.code,
        });
      }
      throw new BinanceRestError(`HTTP ${status}`, { kind: 'rejected', attempts: attempt, status });
    }
    const body = parseJson(text);
    if (body === undefined)
      throw new RetryableFailure('invalid-response', 'response body is not JSON', status);
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BinanceRestError(
        `unexpected response: ${issue ? `${issue.path.map(String).join('.')}: ${issue.message}` : 'schema mismatch'}`,
        { kind: 'invalid-response', attempts: attempt, status },
        { cause: parsed.error },
      );
    }
    return parsed.data;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `Retry-After` is seconds (Binance) or an HTTP date; absent or unreadable means 60 s. */
export function parseRetryAfterMs(header: string | null, nowMs: number): number {
  if (header === null || header.trim() === '') return DEFAULT_RETRY_AFTER_MS;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : DEFAULT_RETRY_AFTER_MS;
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici reports "fetch failed" and puts the system error (ECONNREFUSED, ENOTFOUND) in cause.
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = 'code' in cause ? String(cause.code) : '';
    return `${error.message}: ${code ? `${code} ` : ''}${cause.message}`;
  }
  return error.message;
}
