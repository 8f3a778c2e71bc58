import { INTERVALS, parseStreamName } from '@visualgo/market';
import { z } from 'zod';
import { candleSeq, FEED_STREAM, type MarketEvent, statusSeq, tradeSeq } from '../market-event.js';

/**
 * The bytes of a bus event between processes: the event as JSON (it is plain data by design).
 * Decoding checks every field and that the event agrees with itself (its seq, its stream and its
 * candle or trade), so a bad message is refused whole, never half-used.
 */

const UTF8_OUT = new TextEncoder();
const UTF8_IN = new TextDecoder();

const num = z.number().refine(Number.isFinite, 'not a finite number');
const int = z.number().int();
const exchange = z.enum(['binance', 'binance-sim']);

const candle = z.strictObject({
  type: z.literal('candle'),
  exchange,
  symbol: z.string().regex(/^[A-Z0-9]{2,20}$/),
  interval: z.enum(INTERVALS),
  openTimeMs: int,
  closeTimeMs: int,
  open: num,
  high: num,
  low: num,
  close: num,
  volume: num,
  quoteVolume: num,
  takerBuyVolume: num,
  takerBuyQuoteVolume: num,
  trades: int,
  firstTradeId: int,
  lastTradeId: int,
  closed: z.boolean(),
  eventTimeMs: int,
  receivedTimeMs: int,
});

const trade = z.strictObject({
  type: z.literal('trade'),
  exchange,
  symbol: z.string().regex(/^[A-Z0-9]{2,20}$/),
  tradeId: int,
  price: num,
  quantity: num,
  tradeTimeMs: int,
  buyerIsMaker: z.boolean(),
  eventTimeMs: int,
  receivedTimeMs: int,
});

const status = z.strictObject({
  kind: z.enum(['connected', 'disconnected', 'gap-detected', 'gap-filled', 'gap-unfilled']),
  fromOpenTimeMs: int.optional(),
  toOpenTimeMs: int.optional(),
  fromTradeId: int.optional(),
  toTradeId: int.optional(),
  detail: z.string().max(4_096).optional(),
  lost: z.boolean().optional(),
  timeMs: int,
  source: z.string().max(256).optional(),
});

const event = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('candle'), stream: z.string(), seq: int, candle }),
  z.strictObject({ type: z.literal('trade'), stream: z.string(), seq: int, trade }),
  z.strictObject({ type: z.literal('status'), stream: z.string(), seq: int, status }),
]);

/** A message that is not a bus event; says why. */
export class MalformedEventError extends Error {
  override readonly name = 'MalformedEventError';
}

export function encodeEvent(value: MarketEvent): Uint8Array {
  return UTF8_OUT.encode(JSON.stringify(value));
}

/** Decodes and checks one message; throws {@link MalformedEventError}. */
export function decodeEvent(data: Uint8Array): MarketEvent {
  let json: unknown;
  try {
    json = JSON.parse(UTF8_IN.decode(data));
  } catch (err) {
    throw new MalformedEventError('not JSON', { cause: err });
  }
  const parsed = event.safeParse(json);
  if (!parsed.success) {
    throw new MalformedEventError(parsed.error.issues[0]?.message ?? 'not a bus event', {
      cause: parsed.error,
    });
  }
  const value = parsed.data as MarketEvent;
  const problem = inconsistency(value);
  if (problem) throw new MalformedEventError(problem);
  return value;
}

function inconsistency(value: MarketEvent): string | null {
  if (value.type === 'status') {
    if (value.stream !== FEED_STREAM && !parseStreamName(value.stream)) return 'unknown stream';
    return value.seq === statusSeq(value.stream, value.status) ? null : 'seq does not match the status';
  }
  const id = parseStreamName(value.stream);
  if (!id) return 'unknown stream';
  if (value.type === 'trade') {
    if (id.kind === 'kline' || id.symbol !== value.trade.symbol) return 'trade does not belong to its stream';
    return value.seq === tradeSeq(value.trade) ? null : 'seq is not the trade id';
  }
  const c = value.candle;
  if (id.kind !== 'kline' || id.symbol !== c.symbol || id.interval !== c.interval)
    return 'candle does not belong to its stream';
  return value.seq === candleSeq(c) ? null : 'seq is not the candle index';
}
