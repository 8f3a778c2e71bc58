export * from './nats-server.js';
export * from './service-process.js';
export * from './test-candle.js';
export * from './wait-for.js';
