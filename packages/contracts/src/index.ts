export * from './binance/binance-messages.js';
