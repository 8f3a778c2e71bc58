export * from './event-codec.js';
export * from './kline-history.js';
export * from './kline-writer.js';
export * from './market-registry.js';
export * from './nats-bus.js';
export * from './nats-streams.js';
export * from './nats-subjects.js';
