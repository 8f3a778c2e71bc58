export * from './candle.js';
export * from './interval.js';
export * from './stream-name.js';
