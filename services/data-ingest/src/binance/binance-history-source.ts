import { type Interval, intervalNominalMs, intervalOpenTimeMs, isInterval } from '@visualgo/market';
import type { HistoricalCandle, HistoricalTrade, HistorySource } from '../hub/history-source.js';
import type { StreamDescriptor } from '../hub/market-hub.js';
import {
  historicalTradeToEvent,
  historicalTradeToTrade,
  klineRowToCandle,
  klineRowToEvent,
} from './binance-mapper.js';
import type { BinanceRestClient } from './binance-rest.js';

/** The hub's history, from Binance's `GET /api/v3/klines` (paged, weight-aware). */
export class BinanceHistorySource implements HistorySource {
  constructor(
    private readonly rest: BinanceRestClient,
    private readonly exchange: 'binance' | 'binance-sim',
    private readonly now: () => number = Date.now,
  ) {}

  async latestClosed(
    stream: StreamDescriptor,
    count: number,
    signal: AbortSignal,
  ): Promise<readonly HistoricalCandle[]> {
    const interval = intervalOf(stream);
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
      interval,
      rows.filter((r) => r[6] < serverNow),
    ).slice(-count);
  }

  async closedBetween(
    stream: StreamDescriptor,
    fromOpenTimeMs: number,
    toOpenTimeMs: number,
    signal: AbortSignal,
    limit?: number,
  ): Promise<readonly HistoricalCandle[]> {
    const interval = intervalOf(stream);
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
      interval,
      rows.filter((r) => r[0] >= fromOpenTimeMs && r[0] <= toOpenTimeMs),
    );
  }

  async tradesBetween(
    stream: StreamDescriptor,
    fromId: number,
    toId: number,
    signal: AbortSignal,
  ): Promise<readonly HistoricalTrade[]> {
    if (stream.kind !== 'trade') throw new RangeError(`${stream.stream} is not a trade stream`);
    const rows = await this.rest.tradesRange({ symbol: stream.symbol, fromId, toId }, signal);
    const receivedTimeMs = this.now();
    return rows.map((row) => {
      const mapped = historicalTradeToTrade(row, stream.symbol, this.exchange, receivedTimeMs);
      // The REST client validated every trade against the schema, so this is a bug upstream of us.
      if (!mapped.ok) throw new Error(`unmappable trade for ${stream.stream}: ${mapped.reason}`);
      return { trade: mapped.value, payload: historicalTradeToEvent(row, stream.symbol) };
    });
  }

  private map(
    stream: StreamDescriptor,
    interval: Interval,
    rows: Parameters<typeof klineRowToEvent>[0][],
  ): HistoricalCandle[] {
    const receivedTimeMs = this.now();
    const out: HistoricalCandle[] = [];
    for (const row of rows) {
      const mapped = klineRowToCandle(row, {
        exchange: this.exchange,
        symbol: stream.symbol,
        interval,
        receivedTimeMs,
      });
      // The REST client validated every row against the schema, so a mapping failure is a bug upstream of us.
      if (!mapped.ok) throw new Error(`unmappable kline row for ${stream.stream}: ${mapped.reason}`);
      out.push({ candle: mapped.value, payload: klineRowToEvent(row, stream.symbol, interval) });
    }
    return out;
  }
}

function intervalOf(stream: StreamDescriptor): Interval {
  if (stream.kind !== 'kline' || !stream.interval || !isInterval(stream.interval)) {
    throw new RangeError(`${stream.stream} is not a kline stream`);
  }
  return stream.interval;
}
