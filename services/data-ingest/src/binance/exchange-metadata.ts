import type { BinanceExchangeInfo } from '@visualgo/contracts';
import type { Logger } from '@visualgo/platform';
import type { BinanceRestClient } from './binance-rest.js';

/** What a Binance client asks for while starting: the exchange's clock and its symbol list. */
export interface ExchangeMetadata {
  /** The exchange's `exchangeInfo`, with only the symbols in `symbols` (upper case). */
  exchangeInfo(symbols: ReadonlySet<string>): Promise<BinanceExchangeInfo>;
  /** The exchange's clock, in ms. */
  serverTime(): Promise<number>;
}

export interface UpstreamMetadataOptions {
  readonly rest: BinanceRestClient;
  readonly logger: Logger;
  /** How long a fetched `exchangeInfo` is served before it is fetched again. Default 1 h. */
  readonly infoTtlMs?: number;
  /** How long a fetched server time is reused (plus the local time elapsed). Default 1 s. */
  readonly timeTtlMs?: number;
  readonly now?: () => number;
}

/**
 * The upstream exchange's metadata, fetched on demand and cached: `exchangeInfo` (request weight
 * 20 on Binance) once an hour whatever the number of clients, shared while a fetch is in flight,
 * and served stale when a refresh fails; the server time through `GET /api/v3/time`, reused for a
 * second, and the local clock when the exchange cannot be reached.
 */
export class UpstreamMetadata implements ExchangeMetadata {
  private info: { value: BinanceExchangeInfo; fetchedMs: number } | null = null;
  private infoFetch: Promise<BinanceExchangeInfo> | null = null;
  private time: { serverMs: number; localMs: number } | null = null;
  private timeFetch: Promise<number> | null = null;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly options: UpstreamMetadataOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.logger.child({ component: 'exchange-metadata' });
  }

  async exchangeInfo(symbols: ReadonlySet<string>): Promise<BinanceExchangeInfo> {
    const info = await this.fullInfo();
    return {
      ...info,
      serverTime: await this.serverTime(),
      symbols: info.symbols.filter((s) => symbols.has(s.symbol)),
    };
  }

  async serverTime(): Promise<number> {
    const local = this.now();
    const cached = this.time;
    if (cached && local - cached.localMs < (this.options.timeTtlMs ?? 1_000))
      return cached.serverMs + (local - cached.localMs);
    this.timeFetch ??= this.options.rest
      .serverTime()
      .then((serverMs) => {
        this.time = { serverMs, localMs: this.now() };
        return serverMs;
      })
      .catch((err: unknown) => {
        this.log.warn({ err }, 'exchange time unavailable, answering with the local clock');
        return this.now();
      })
      .finally(() => {
        this.timeFetch = null;
      });
    return this.timeFetch;
  }

  private async fullInfo(): Promise<BinanceExchangeInfo> {
    const cached = this.info;
    if (cached && this.now() - cached.fetchedMs < (this.options.infoTtlMs ?? 3_600_000)) return cached.value;
    this.infoFetch ??= this.options.rest
      .exchangeInfo()
      .then((value) => {
        this.info = { value, fetchedMs: this.now() };
        return value;
      })
      .catch((err: unknown) => {
        if (!cached) throw err;
        this.log.warn({ err }, 'exchangeInfo refresh failed, serving the last one');
        return cached.value;
      })
      .finally(() => {
        this.infoFetch = null;
      });
    return this.infoFetch;
  }
}
