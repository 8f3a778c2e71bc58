export * from './backoff.js';
export * from './config.js';
export * from './http-server.js';
export * from './logger.js';
export * from './metrics.js';
export * from './shutdown.js';
export * from './subscriber-index.js';
export * from './ws-fanout.js';
