import type { BinanceKlineRow } from '@visualgo/contracts';
import {
  type Candle,
  type ExchangeId,
  formatStreamName,
  intervalNominalMs,
  intervalOpenTimeMs,
  type KlineStreamId,
  type Trade,
  type TradeStreamId,
} from '@visualgo/market';
import type { HistorySource } from '../hub/history-source.js';
import { historicalTradeToTrade, klineRowToCandle } from './binance-mapper.js';
import type { BinanceRestClient } from './binance-rest.js';

/** The hub's history, from Binance's `GET /api/v3/klines` (paged, weight-aware). */
export class BinanceHistorySource implements HistorySource {
  constructor(
    private readonly rest: BinanceRestClient,
    private readonly exchange: ExchangeId,
    private readonly now: () => number = Date.now,
  ) {}

  async latestClosed(stream: KlineStreamId, count: number, signal: AbortSignal): Promise<readonly Candle[]> {
    const { interval } = stream;
    // Exchange time, not local time: the simulated exchange may run faster than the wall clock.
    const serverNow = await this.rest.serverTime(signal);
    const currentOpen = intervalOpenTimeMs(interval, serverNow);
    // Never before the epoch: a REST startTime must not be negative (large counts of long intervals).
    const from = Math.max(0, currentOpen - count * intervalNominalMs(interval));
    const rows = await this.rest.klinesRange(
      { symbol: stream.symbol, interval, fromOpenTimeMs: from, toOpenTimeMs: currentOpen - 1 },
      signal,
    );
    return this.map(
      stream,
      rows.filter((r) => r[6] < serverNow),
    ).slice(-count);
  }

  async closedBetween(
    stream: KlineStreamId,
    fromOpenTimeMs: number,
    toOpenTimeMs: number,
    signal: AbortSignal,
    limit?: number,
  ): Promise<readonly Candle[]> {
    const { interval } = stream;
    const rows = await this.rest.klinesRange(
      {
        symbol: stream.symbol,
        interval,
        fromOpenTimeMs,
        toOpenTimeMs,
        ...(limit === undefined ? {} : { maxRows: limit }),
      },
      signal,
    );
    return this.map(
      stream,
      rows.filter((r) => r[0] >= fromOpenTimeMs && r[0] <= toOpenTimeMs),
    );
  }

  async tradesBetween(
    stream: TradeStreamId,
    fromId: number,
    toId: number,
    signal: AbortSignal,
  ): Promise<readonly Trade[]> {
    const rows = await this.rest.tradesRange({ symbol: stream.symbol, fromId, toId }, signal);
    const receivedTimeMs = this.now();
    return rows.map((row) => {
      const mapped = historicalTradeToTrade(row, stream.symbol, this.exchange, receivedTimeMs);
      // The REST client validated every trade against the schema, so this is a bug upstream of us.
      if (!mapped.ok) throw new Error(`unmappable trade for ${formatStreamName(stream)}: ${mapped.reason}`);
      return mapped.value;
    });
  }

  private map(stream: KlineStreamId, rows: readonly BinanceKlineRow[]): Candle[] {
    const receivedTimeMs = this.now();
    const out: Candle[] = [];
    for (const row of rows) {
      const mapped = klineRowToCandle(row, {
        exchange: this.exchange,
        symbol: stream.symbol,
        interval: stream.interval,
        receivedTimeMs,
      });
      // The REST client validated every row against the schema, so a mapping failure is a bug upstream of us.
      if (!mapped.ok)
        throw new Error(`unmappable kline row for ${formatStreamName(stream)}: ${mapped.reason}`);
      out.push(mapped.value);
    }
    return out;
  }
}
