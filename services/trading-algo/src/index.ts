/**
 * trading-algo as a workspace package, for the gateway (which serves the workers' output through
 * the same edges) and other packages' tests. The service itself runs from `main.ts`.
 */
export { createAlgoMetrics } from './algo-metrics.js';
export { type AlgoFeed, startTradingAlgo, type TradingAlgo, type TradingAlgoDeps } from './app.js';
export {
  decodePoint,
  type HistoryLoadedMessage,
  type LiveMessage,
  liveMessageSchema,
  liveSubject,
  POINTS_STREAM,
  PointsLog,
  pointSubject,
  wireOfMessage,
} from './cluster/algo-output.js';
export { type AlgoConfig, algoConfigSchema, indicatorConfigOf, loadAlgoConfig } from './config.js';
export { type EngineEvent, IndicatorEngine, type StreamInfo } from './engine/indicator-engine.js';
export type { IndicatorSource } from './engine/indicator-source.js';
export { feedStatusMessage } from './feed/feed-status.js';
export { indicatorRoutes } from './http/indicator-routes.js';
export { AlgoWsServer, type AlgoWsServerOptions } from './ws/algo-ws-server.js';
