export type { SimCandle } from './candle-history.js';
export { type SimConfig, simConfigSchema, simExchangeOptions } from './config.js';
export {
  MALFORMED_KINDS,
  type MalformedKind,
  REFUSE_MODES,
  REST_FAULT_MODES,
  type RefuseMode,
  type RestFaultMode,
  type RestFaultSpec,
} from './faults.js';
export type { CandleRange, GroundTruth, TradeRange } from './ground-truth.js';
export { loadReplay, type ReplayData, type ReplayOptions } from './replay/replay-data.js';
export { ReplayError, ReplayFileError } from './replay/replay-error.js';
export type { ClockKind } from './sim-clock.js';
export {
  ClockModeError,
  type CloseReason,
  type ConnectionFilter,
  type ConnectionInfo,
  DEFAULT_SYMBOLS,
  type DropOptions,
  type RefuseOptions,
  type ReplayStatus,
  type ShutdownOptions,
  type SimExchange,
  type SimExchangeOptions,
  type SimStatus,
  type StallOptions,
  startSimExchange,
} from './sim-exchange.js';
export type { SimLogger } from './sim-logger.js';
export { type SymbolSpec, symbolSpec } from './symbol-spec.js';
export { TestClient } from './test-client.js';
