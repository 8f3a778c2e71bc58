export * from './algo/algo-messages.js';
export * from './binance/binance-event-read.js';
export * from './binance/binance-messages.js';
export * from './binance/binance-render.js';
export * as seedProto from './gen/trade.js';
export * as marketDataProto from './gen/visualgo/v1/market_data.js';
export * from './market-data-proto.js';
