/**
 * data-ingest as a workspace package, for the tests of other packages and the benchmarks: the
 * service (`startIngestService`), its parts (hub, store, bus), and its edges. The service itself
 * runs from `main.ts`; other services talk to it over gRPC and WebSocket only.
 */
export { type IngestConfig, ingestConfigSchema, upstreamOf } from './app/config.js';
export {
  type IngestService,
  type IngestServiceOverrides,
  startIngestService,
  streamsOf,
} from './app/ingest-service.js';
export { BinanceRestClient } from './binance/binance-rest.js';
export { type ExchangeMetadata, UpstreamMetadata } from './binance/exchange-metadata.js';
export { type GrpcEdge, type GrpcEdgeOptions, startGrpcEdge } from './grpc/grpc-server.js';
export {
  type IngestHttpEdge,
  type IngestHttpEdgeOptions,
  startIngestHttpEdge,
} from './http/ingest-http-edge.js';
export { type CandleQuery, CandleStore, type CandleStoreOptions } from './hub/candle-store.js';
export { type CreateIngestHubOptions, createIngestHub, type IngestParts } from './hub/create-ingest-hub.js';
export type { HistorySource } from './hub/history-source.js';
export { IngestHub, type IngestHubOptions } from './hub/ingest-hub.js';
export type { IngestView } from './hub/ingest-view.js';
