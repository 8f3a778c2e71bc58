/** The gateway as a workspace package, for tests and the cluster demo. It runs from `main.ts`. */
export { type GatewayConfig, gatewayConfigSchema } from './config.js';
export { type Gateway, startGateway } from './gateway-service.js';
export { NatsIngestView } from './nats-ingest-view.js';
export { RemoteIndicators } from './remote-indicators.js';
