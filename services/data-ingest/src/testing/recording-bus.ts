import type { FeedStatus, MarketBus, MarketEvent } from '@visualgo/bus';
import type { StreamId } from '@visualgo/market';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { CandleStore } from '../hub/candle-store.js';
import type { CreateIngestHubOptions } from '../hub/create-ingest-hub.js';
import type { HistorySource } from '../hub/history-source.js';
import { IngestHub } from '../hub/ingest-hub.js';
import { MINUTE_MS, T0 } from './candles.js';

const logger = pino({ level: 'silent' });

/** What the hub published, as it published it: closed candles (index after T0), trades, status. */
export interface Published {
  readonly events: MarketEvent[];
  readonly closed: number[];
  readonly trades: number[];
  readonly status: (FeedStatus & { readonly stream: string })[];
}

/** A bus that records what the hub publishes, at once and in order. */
export function recordingBus(): MarketBus & Published {
  const published: Published = { events: [], closed: [], trades: [], status: [] };
  return {
    ...published,
    publish(event) {
      published.events.push(event);
      if (event.type === 'candle' && event.candle.closed)
        published.closed.push((event.candle.openTimeMs - T0) / MINUTE_MS);
      if (event.type === 'trade') published.trades.push(event.trade.tradeId);
      if (event.type === 'status') published.status.push({ ...event.status, stream: event.stream });
    },
    subscribe: () => {
      throw new Error('the hub never subscribes');
    },
  };
}

/** A hub over its own store (50 candles loaded at start, unless `extra` says otherwise), publishing on a recording bus. */
export function hubWith(
  streams: readonly StreamId[],
  history: HistorySource,
  extra: Partial<CreateIngestHubOptions> = {},
): { hub: IngestHub; store: CandleStore } & Published {
  const options: CreateIngestHubOptions = {
    exchange: 'binance-sim',
    streams,
    historyCandles: 50,
    history,
    logger,
    metrics: new Registry(),
    ...extra,
  };
  const store = new CandleStore(options);
  const bus = recordingBus();
  return { hub: new IngestHub({ ...options, store, bus }), store, ...bus };
}
