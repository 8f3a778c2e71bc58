/**
 * The trading-algo WebSocket (`/ws`) and HTTP (`/api/indicators`) message formats, as zod schemas.
 * The service builds its messages with these types and its tests validate every message it sends
 * against them; the dashboard parses with them. Documented with examples in docs/trading-algo.md.
 */
import { EXCHANGE_IDS, INTERVALS } from '@visualgo/market';
import { z } from 'zod';

const timeMs = z.number().int().nonnegative();
/** zod 4 numbers are finite: NaN and ±Infinity never pass. */
const value = z.number();
const nullableValue = value.nullable();

export const exchangeIdSchema = z.enum(EXCHANGE_IDS);
export const rubberbandSignalSchema = z.enum(['overbought', 'oversold', 'none']);
export const signalSideSchema = z.enum(['overbought', 'oversold']);

/** `{"1": [lower, upper], "2": [lower, upper]}`, keyed by the band multiplier; null while the VWAP is. */
export const vwapBandsSchema = z
  .record(z.string().regex(/^\d+(\.\d+)?$/, 'band keys are multipliers'), z.tuple([value, value]))
  .nullable();

/** The indicator values of one candle (final, or provisional for the open candle). */
export const indicatorPointSchema = z.strictObject({
  openTimeMs: timeMs,
  closeTimeMs: timeMs,
  /** True for a closed candle (committed); false for the still-open one (provisional). */
  final: z.boolean(),
  open: value,
  high: value,
  low: value,
  close: value,
  volume: value,
  ema: nullableValue,
  vwap: nullableValue,
  vwapBands: vwapBandsSchema,
  atr: nullableValue,
  /** (close − EMA) / ATR. */
  stretch: nullableValue,
  /**
   * On a provisional point: what would fire if the candle closed as it is now. Always `none` while
   * `vwapPartial` is true or `converged` false: no signal fires from values that could be wrong.
   */
  signal: rubberbandSignalSchema,
  /** Open time of the first candle the VWAP covers: its anchor period's start when complete; null when `vwap` is. */
  vwapFromMs: timeMs.nullable(),
  /** The history did not reach back to the VWAP anchor's start: VWAP and bands cover only part of the period. */
  vwapPartial: z.boolean(),
  /** EMA and ATR (so the stretch) were computed from complete history and equal their full-history values to 1e-9. */
  converged: z.boolean(),
});

const streamFields = {
  /** Binance stream name, lower case: `btcusdt@kline_1m`. */
  stream: z.string().min(1),
  exchange: exchangeIdSchema,
  /** Upper case: `BTCUSDT`. */
  symbol: z.string().min(1),
  interval: z.enum(INTERVALS),
};

/** Sent per stream on connect and on subscribe: replaces whatever the client held for the stream. */
export const snapshotMessageSchema = z.strictObject({
  type: z.literal('snapshot'),
  ...streamFields,
  /** The last final points, oldest first. */
  points: z.array(indicatorPointSchema),
});

/** Every candle update: final when the candle closed, provisional otherwise. */
export const indicatorMessageSchema = z.strictObject({
  type: z.literal('indicator'),
  ...streamFields,
  ...indicatorPointSchema.shape,
});

/** A rubberband signal fired on a closed candle. */
export const signalMessageSchema = z.strictObject({
  type: z.literal('signal'),
  stream: z.string().min(1),
  exchange: exchangeIdSchema,
  openTimeMs: timeMs,
  side: signalSideSchema,
  close: value,
  ema: value,
  vwap: value,
  stretch: value,
});

export const feedStateSchema = z.enum([
  'connected',
  'disconnected',
  'gap-detected',
  'gap-filled',
  'gap-unfilled',
]);

/**
 * Feed health. `scope: "feed"` is trading-algo's own gRPC link to data-ingest; `scope: "upstream"`
 * relays data-ingest's view of its exchange connection and its candle gaps.
 */
export const statusMessageSchema = z.strictObject({
  type: z.literal('status'),
  scope: z.enum(['feed', 'upstream']),
  state: feedStateSchema,
  /** The affected stream; null when it concerns the whole connection. */
  stream: z.string().nullable(),
  exchange: exchangeIdSchema.nullable(),
  /** For gaps: open times of the first and last missing candle. */
  fromOpenTimeMs: timeMs.nullable(),
  toOpenTimeMs: timeMs.nullable(),
  detail: z.string().nullable(),
  timeMs,
});

/** The client's stream subscriptions after one of its `subscribe`/`unsubscribe` requests. */
export const subscriptionsMessageSchema = z.strictObject({
  type: z.literal('subscriptions'),
  streams: z.array(z.string()),
});

export const clientErrorCodeSchema = z.enum([
  'bad-json',
  'bad-request',
  'unknown-stream',
  'binary-not-supported',
]);

/** The answer to a client message the server could not act on; the connection stays open. */
export const errorMessageSchema = z.strictObject({
  type: z.literal('error'),
  code: clientErrorCodeSchema,
  message: z.string(),
});

export const algoServerMessageSchema = z.discriminatedUnion('type', [
  snapshotMessageSchema,
  indicatorMessageSchema,
  signalMessageSchema,
  statusMessageSchema,
  subscriptionsMessageSchema,
  errorMessageSchema,
]);

/** What a client may send: `{"op":"subscribe","streams":["btcusdt@kline_1m"]}`. */
export const algoClientMessageSchema = z.strictObject({
  op: z.enum(['subscribe', 'unsubscribe']),
  streams: z.array(z.string().min(1).max(64)).min(1).max(256),
});

/** `GET /api/indicators?stream=...&limit=...`: final points, oldest first. */
export const indicatorHistoryResponseSchema = z.strictObject({
  ...streamFields,
  points: z.array(indicatorPointSchema),
});

export type WireIndicatorPoint = z.infer<typeof indicatorPointSchema>;
export type WireVwapBands = z.infer<typeof vwapBandsSchema>;
export type SnapshotMessage = z.infer<typeof snapshotMessageSchema>;
export type IndicatorMessage = z.infer<typeof indicatorMessageSchema>;
export type SignalMessage = z.infer<typeof signalMessageSchema>;
export type FeedState = z.infer<typeof feedStateSchema>;
export type StatusMessage = z.infer<typeof statusMessageSchema>;
export type SubscriptionsMessage = z.infer<typeof subscriptionsMessageSchema>;
export type ClientErrorCode = z.infer<typeof clientErrorCodeSchema>;
export type ErrorMessage = z.infer<typeof errorMessageSchema>;
export type AlgoServerMessage = z.infer<typeof algoServerMessageSchema>;
export type AlgoClientMessage = z.infer<typeof algoClientMessageSchema>;
export type IndicatorHistoryResponse = z.infer<typeof indicatorHistoryResponseSchema>;
