import { LocalBus } from '@visualgo/bus';
import { CandleStore, type CandleStoreOptions } from './candle-store.js';
import { IngestHub, type IngestHubOptions } from './ingest-hub.js';

export type CreateIngestHubOptions = CandleStoreOptions & Omit<IngestHubOptions, 'store' | 'bus'>;

/** Ingestion's parts: the hub publishes on the bus, the bus replays from the store. */
export interface IngestParts {
  readonly hub: IngestHub;
  readonly store: CandleStore;
  readonly bus: LocalBus;
}

/**
 * Builds ingestion on the in-process bus: the {@link CandleStore} keeps the candles, the
 * {@link IngestHub} orders what the exchange sends into it and publishes on a {@link LocalBus},
 * which replays from the store. The edges take the bus (as `MarketBus`) and the hub (as `IngestView`).
 */
export function createIngestHub(options: CreateIngestHubOptions): IngestParts {
  const store = new CandleStore(options);
  const bus = new LocalBus({ history: store });
  const hub = new IngestHub({ ...options, store, bus });
  return { hub, store, bus };
}
