/**
 * Classifies one text frame received on a Binance Spot stream connection. Every input yields a
 * result; nothing here throws. The frame is validated against the `@visualgo/contracts` schemas
 * (trades and klines by their field-by-field readers, which agree with the schemas, and by the
 * schemas when those refuse) and, for data events, cross-checked against the stream it arrived on.
 */
import {
  type BinanceAggTradeEvent,
  type BinanceKlineEvent,
  type BinanceTradeEvent,
  binanceAggTradeEvent,
  binanceCombinedFrame,
  binanceKlineEvent,
  binanceMethodError,
  binanceMethodResult,
  binanceServerShutdownEvent,
  binanceTradeEvent,
  readKlineEvent,
  readTradeEvent,
} from '@visualgo/contracts';
import {
  formatStreamName,
  intervalCloseTimeMs,
  intervalOpenTimeMs,
  parseStreamName,
  type StreamId,
} from '@visualgo/market';
import type { z } from 'zod';

export type MethodId = number | string | null;

export type BinanceFrame =
  | { readonly type: 'kline'; readonly stream: string; readonly payload: BinanceKlineEvent }
  | { readonly type: 'trade'; readonly stream: string; readonly payload: BinanceTradeEvent }
  | { readonly type: 'aggTrade'; readonly stream: string; readonly payload: BinanceAggTradeEvent }
  /** Planned server shutdown: reconnect elsewhere before the server closes this connection. */
  | { readonly type: 'shutdown'; readonly eventTimeMs: number }
  | {
      readonly type: 'method-result';
      readonly id: MethodId;
      readonly result: null | readonly string[] | boolean;
    }
  | { readonly type: 'method-error'; readonly id: MethodId; readonly code: number; readonly msg: string }
  /** Not what the schemas allow: bad JSON, missing or mistyped fields, an event on the wrong stream. */
  | { readonly type: 'malformed'; readonly reason: string }
  /** Well-formed but not something this adapter consumes (other stream kinds, unknown events). */
  | { readonly type: 'unknown'; readonly reason: string; readonly stream?: string };

function malformed(reason: string): BinanceFrame {
  return { type: 'malformed', reason };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** First zod issue as `path: message`, short enough for a log field. */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'schema mismatch';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

const SHUTDOWN = 'serverShutdown';

function parseShutdown(value: unknown): BinanceFrame {
  const parsed = binanceServerShutdownEvent.safeParse(value);
  return parsed.success
    ? { type: 'shutdown', eventTimeMs: parsed.data.E }
    : malformed(`serverShutdown: ${describeIssue(parsed.error)}`);
}

/** Validates a data event against the stream it claims to belong to. */
function parseEvent(stream: string, id: StreamId, data: Record<string, unknown>): BinanceFrame {
  const e = data.e;
  if (typeof e !== 'string') return malformed(`${stream}: event type "e" missing or not a string`);
  if (e !== 'kline' && e !== 'trade' && e !== 'aggTrade') {
    return { type: 'unknown', reason: `unknown event type ${JSON.stringify(e)}`, stream };
  }
  if (e !== id.kind) return malformed(`${stream}: ${e} event on a ${id.kind} stream`);
  if (typeof data.s === 'string' && data.s.toUpperCase() !== id.symbol) {
    return malformed(`${stream}: event symbol ${data.s} does not match the stream`);
  }
  switch (e) {
    case 'kline': {
      // Checked field by field first (every frame); the schema only when that fails, for its error.
      let event = readKlineEvent(data);
      if (event === null) {
        const parsed = binanceKlineEvent.safeParse(data);
        if (!parsed.success) return malformed(`${stream}: ${describeIssue(parsed.error)}`);
        event = parsed.data;
      }
      const k = event.k;
      if (k.s !== event.s) return malformed(`${stream}: kline symbol ${k.s} differs from event symbol`);
      if (id.kind === 'kline' && k.i !== id.interval) {
        return malformed(`${stream}: kline interval ${k.i} does not match the stream`);
      }
      // Candles are keyed by open time downstream: a misaligned one would derail the ordering.
      if (id.kind === 'kline' && k.t !== intervalOpenTimeMs(id.interval, k.t)) {
        return malformed(`${stream}: kline open time ${k.t} is not aligned to ${id.interval}`);
      }
      if (id.kind === 'kline' && k.T !== intervalCloseTimeMs(id.interval, k.t)) {
        return malformed(`${stream}: kline close time ${k.T} does not match open time ${k.t}`);
      }
      if (event.E < k.t) {
        return malformed(`${stream}: event time ${event.E} is before the kline opened at ${k.t}`);
      }
      return { type: 'kline', stream, payload: event };
    }
    case 'trade': {
      const read = readTradeEvent(data);
      if (read !== null) return { type: 'trade', stream, payload: read };
      const parsed = binanceTradeEvent.safeParse(data);
      if (!parsed.success) return malformed(`${stream}: ${describeIssue(parsed.error)}`);
      return { type: 'trade', stream, payload: parsed.data };
    }
    case 'aggTrade': {
      const parsed = binanceAggTradeEvent.safeParse(data);
      if (!parsed.success) return malformed(`${stream}: ${describeIssue(parsed.error)}`);
      return { type: 'aggTrade', stream, payload: parsed.data };
    }
  }
}

function parseCombined(frame: Record<string, unknown>): BinanceFrame {
  let stream: string;
  let data: unknown;
  if (typeof frame.stream === 'string' && frame.stream.length > 0) {
    // What the schema accepts, checked without building its copy of every frame.
    stream = frame.stream;
    data = frame.data;
  } else {
    const wrapper = binanceCombinedFrame.safeParse(frame);
    if (!wrapper.success) return malformed(`combined frame: ${describeIssue(wrapper.error)}`);
    ({ stream, data } = wrapper.data);
  }
  if (!isRecord(data)) return malformed(`${stream}: data is not an object`);
  if (data.e === SHUTDOWN) return parseShutdown(data);
  const id = parseStreamName(stream);
  if (!id) return { type: 'unknown', reason: `unsupported stream ${JSON.stringify(stream)}`, stream };
  return parseEvent(stream, id, data);
}

/**
 * A raw (unwrapped) event, as a `/ws/<stream>` connection or a combined connection with the
 * `combined` property switched off delivers it: the stream name is derived from the event.
 */
function parseRawEvent(frame: Record<string, unknown>): BinanceFrame {
  if (frame.e === SHUTDOWN) return parseShutdown(frame);
  const e = frame.e;
  const symbol = typeof frame.s === 'string' ? frame.s.toLowerCase() : undefined;
  if (symbol === undefined) return malformed('raw event without a symbol "s"');
  let stream: string;
  if (e === 'trade' || e === 'aggTrade') {
    stream = `${symbol}@${e}`;
  } else if (e === 'kline') {
    const k = frame.k;
    if (!isRecord(k) || typeof k.i !== 'string') return malformed('raw kline event without "k.i"');
    stream = `${symbol}@kline_${k.i}`;
  } else {
    return { type: 'unknown', reason: `unknown event type ${JSON.stringify(e)}` };
  }
  const id = parseStreamName(stream);
  if (!id) return malformed(`raw ${String(e)} event names no valid stream (${stream})`);
  return parseEvent(formatStreamName(id), id, frame);
}

function parseMethodReply(frame: Record<string, unknown>): BinanceFrame {
  // Binance documents `{code,msg,id}`; its servers also answer `{"error":{code,msg},"id":..}`.
  const body = isRecord(frame.error) ? { ...frame.error, id: frame.id } : frame;
  if ('result' in frame) {
    const parsed = binanceMethodResult.safeParse(frame);
    if (!parsed.success) return malformed(`method result: ${describeIssue(parsed.error)}`);
    return { type: 'method-result', id: parsed.data.id, result: parsed.data.result };
  }
  const parsed = binanceMethodError.safeParse(body);
  if (!parsed.success) return malformed(`method error: ${describeIssue(parsed.error)}`);
  return { type: 'method-error', id: parsed.data.id ?? null, code: parsed.data.code, msg: parsed.data.msg };
}

/** Parses one text frame. Never throws. */
export function parseBinanceFrame(text: string): BinanceFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch (error) {
    return malformed(`invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isRecord(frame)) return malformed(`frame is not a JSON object`);
  if ('stream' in frame || 'data' in frame) return parseCombined(frame);
  if ('result' in frame || 'error' in frame || 'code' in frame) return parseMethodReply(frame);
  // The WebSocket API wraps events: {"event":{"e":"serverShutdown","E":...}}.
  if (isRecord(frame.event)) {
    return frame.event.e === SHUTDOWN
      ? parseShutdown(frame.event)
      : { type: 'unknown', reason: `unknown wrapped event ${JSON.stringify(frame.event.e)}` };
  }
  if ('e' in frame) return parseRawEvent(frame);
  return { type: 'unknown', reason: 'frame is neither an event nor a method reply' };
}
