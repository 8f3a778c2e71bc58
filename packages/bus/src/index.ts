export * from './bus-errors.js';
export * from './candle-retention.js';
export * from './local-bus.js';
export * from './market-bus.js';
export * from './market-event.js';
export * from './subject.js';
export * from './subscription.js';
export * from './wire-form.js';
