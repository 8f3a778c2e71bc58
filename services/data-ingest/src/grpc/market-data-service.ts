import { type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, status } from '@grpc/grpc-js';
import {
  candleToKlineData,
  candleToProto,
  marketDataProto,
  seedProto,
  tradeToProto,
} from '@visualgo/contracts';
import type { Candle } from '@visualgo/market';
import type { Logger } from '@visualgo/platform';
import { HistoryUnavailable, ReplayOutOfRange } from '../hub/candle-history.js';
import type { FeedStatusEvent, MarketHubView } from '../hub/market-hub.js';
import type { PublishedEvent } from '../hub/published-event.js';
import { BoundedWriter } from './bounded-writer.js';

const {
  Candle: CandleMsg,
  Trade: TradeMsg,
  FeedStatus: FeedStatusMsg,
  FeedStatusKind,
  StreamKind,
  MarketDataService,
} = marketDataProto;
type StreamCandlesRequest = marketDataProto.StreamCandlesRequest;
type StreamTradesRequest = marketDataProto.StreamTradesRequest;
type GetCandlesRequest = marketDataProto.GetCandlesRequest;
type GetCandlesResponse = marketDataProto.GetCandlesResponse;
type ListStreamsResponse = marketDataProto.ListStreamsResponse;

const CANDLE_BYTES = Symbol('grpc-candle');
const TRADE_BYTES = Symbol('grpc-trade');
const KLINE_DATA_BYTES = Symbol('grpc-seed-kline');
const passthrough = (bytes: Buffer): Buffer => bytes;

/**
 * The generated service definitions with streaming responses taken as already-encoded bytes,
 * so an event is encoded once for all subscribers instead of once per stream.
 */
export const MarketDataWire = {
  ...MarketDataService,
  streamCandles: { ...MarketDataService.streamCandles, responseSerialize: passthrough },
  streamTrades: { ...MarketDataService.streamTrades, responseSerialize: passthrough },
  streamFeedStatus: { ...MarketDataService.streamFeedStatus, responseSerialize: passthrough },
} as const;
export const KlineWire = {
  ...seedProto.KlineServiceService,
  streamKlines: { ...seedProto.KlineServiceService.streamKlines, responseSerialize: passthrough },
} as const;

export const encodeCandle = (c: Candle, stream: string): Buffer =>
  Buffer.from(CandleMsg.encode(candleToProto(c, stream)).finish());

function eventCandleBytes(e: PublishedEvent): Buffer {
  return e.data.type === 'candle' ? encodeCandle(e.data.candle, e.stream) : Buffer.alloc(0);
}

const STATUS_KIND: Record<FeedStatusEvent['kind'], marketDataProto.FeedStatusKind> = {
  connected: FeedStatusKind.FEED_STATUS_KIND_CONNECTED,
  disconnected: FeedStatusKind.FEED_STATUS_KIND_DISCONNECTED,
  'gap-detected': FeedStatusKind.FEED_STATUS_KIND_GAP_DETECTED,
  'gap-filled': FeedStatusKind.FEED_STATUS_KIND_GAP_FILLED,
  'gap-unfilled': FeedStatusKind.FEED_STATUS_KIND_GAP_UNFILLED,
};

export interface StreamingDeps {
  readonly hub: MarketHubView;
  readonly logger: Logger;
  /** Live messages queued per subscriber before it is cut off. */
  readonly maxQueued: number;
  /** Open streaming calls at most; each may hold a replay of history, so they are bounded. */
  readonly maxStreams: number;
  /** Every open streaming call, so shutdown can end them. */
  readonly active: Set<BoundedWriter<Buffer>>;
  readonly onSlowConsumer?: (method: string) => void;
}

class InvalidArgument extends Error {}

function validateStreams(
  hub: MarketHubView,
  requested: readonly string[],
  kind: 'kline' | 'trade',
): string[] {
  const served = hub.streams().filter((s) => s.kind === kind);
  if (requested.length === 0) return served.map((s) => s.stream);
  const known = new Set(served.map((s) => s.stream));
  for (const stream of requested) {
    if (!known.has(stream)) {
      const list = served.map((s) => s.stream).join(', ');
      throw new InvalidArgument(
        `unknown ${kind} stream "${stream}"; this server serves: ${list || '(none)'}`,
      );
    }
  }
  return [...new Set(requested)];
}

function track(
  deps: StreamingDeps,
  call: ServerWritableStream<unknown, Buffer>,
  method: string,
): BoundedWriter<Buffer> | null {
  if (deps.active.size >= deps.maxStreams) {
    call.emit('error', {
      code: status.RESOURCE_EXHAUSTED,
      details: `too many open streams (at most ${deps.maxStreams}); retry later`,
    });
    return null;
  }
  const writer = new BoundedWriter<Buffer>(call, {
    maxQueued: deps.maxQueued,
    onOverflow: () => {
      deps.logger.warn({ method, peer: call.getPeer() }, 'slow gRPC consumer cut off');
      deps.onSlowConsumer?.(method);
    },
  });
  deps.active.add(writer);
  return writer;
}

/**
 * Undoes the subscription `set` later receives, and the tracking, when the call ends for any
 * reason; `ended` tells an asynchronous start that the call is already gone.
 */
function bindLifetime(
  deps: StreamingDeps,
  call: ServerWritableStream<unknown, Buffer>,
  writer: BoundedWriter<Buffer>,
): { set(unsubscribe: () => void): void; readonly ended: boolean } {
  let done = false;
  let unsubscribe: (() => void) | null = null;
  const cleanup = () => {
    if (done) return;
    done = true;
    unsubscribe?.();
    deps.active.delete(writer);
  };
  call.on('cancelled', cleanup);
  call.on('close', cleanup);
  call.on('finish', cleanup);
  call.on('error', cleanup);
  return {
    set(u) {
      if (done) u();
      else unsubscribe = u;
    },
    get ended() {
      return done;
    },
  };
}

interface OlderPart {
  readonly candles: readonly Candle[];
  /** The held history started here when the older part was fetched up to it. */
  readonly coveredFromMs: number | null;
}

/** Fetches, per stream, the part of a replay from `since` that is older than the held history. */
async function prepareReplay(
  hub: MarketHubView,
  streams: readonly string[],
  since: number,
): Promise<Map<string, OlderPart>> {
  const older = new Map<string, OlderPart>();
  if (since <= 0) return older;
  for (const s of streams) {
    const coveredFromMs = hub.coveredFromMs(s);
    older.set(s, { candles: await hub.olderThanHeld(s, since), coveredFromMs });
  }
  return older;
}

/** Whether the held history still continues where each stream's older part ended. */
function replayStillCovered(
  hub: MarketHubView,
  older: ReadonlyMap<string, OlderPart>,
  since: number,
): boolean {
  for (const [s, part] of older) {
    const now = hub.coveredFromMs(s);
    if (now === null || now <= since + 1) continue;
    // The older part reached the history as it was; history that has since moved forward
    // would leave a hole. (Kept in the book, the older part lowered the start instead.)
    if (part.coveredFromMs === null || now > part.coveredFromMs) return false;
  }
  return true;
}

/** The gRPC status for a failed history request. */
function historyError(err: unknown): { code: status; details: string } {
  const details = err instanceof Error ? err.message : String(err);
  if (err instanceof ReplayOutOfRange) return { code: status.OUT_OF_RANGE, details };
  if (err instanceof HistoryUnavailable) return { code: status.UNAVAILABLE, details };
  return { code: status.INTERNAL, details };
}

function invalid(call: ServerWritableStream<unknown, Buffer>, err: unknown): void {
  call.emit('error', {
    code: status.INVALID_ARGUMENT,
    details: err instanceof Error ? err.message : String(err),
  });
}

export function createMarketDataHandlers(deps: StreamingDeps) {
  const { hub } = deps;
  return {
    streamCandles(call: ServerWritableStream<StreamCandlesRequest, Buffer>): void {
      let streams: string[];
      const since = call.request.sinceOpenTimeMs;
      try {
        streams = validateStreams(hub, call.request.streams, 'kline');
        if (since < 0) throw new InvalidArgument('since_open_time_ms must be >= 0');
      } catch (err) {
        invalid(call, err);
        return;
      }
      if (since > 0 && !hub.isHistoryLoaded()) {
        // Replaying now would start from whatever happens to be loaded; the client retries.
        call.emit('error', { code: status.UNAVAILABLE, details: 'history is still loading; retry shortly' });
        return;
      }
      const wanted = new Set(streams);
      const closedOnly = call.request.closedOnly;
      const writer = track(deps, call, 'StreamCandles');
      if (!writer) return;
      const lifetime = bindLifetime(deps, call, writer);
      void prepareReplay(hub, streams, since).then(
        (older) => {
          if (lifetime.ended) return;
          if (!replayStillCovered(hub, older, since)) {
            // The held history moved on (a full book evicts its oldest candles) while the older
            // part was fetched: what lies between would be missing. The client resumes again.
            call.emit('error', {
              code: status.UNAVAILABLE,
              details: 'history moved on while the replay was prepared; retry',
            });
            return;
          }
          // History snapshot and subscription happen in the same tick: nothing can be published
          // in between, so the seam has no gap and no duplicate.
          lifetime.set(
            hub.subscribe((event) => {
              if (event.data.type !== 'candle' || !wanted.has(event.stream)) return;
              if (closedOnly && !event.data.candle.closed) return;
              writer.push(event.memo(CANDLE_BYTES, eventCandleBytes));
            }),
          );
          const replay: Buffer[] = [];
          if (since > 0) {
            const merged: { s: string; candle: Candle }[] = [];
            for (const s of streams) {
              const held = hub.closedSince(s, since);
              const first = held[0]?.openTimeMs ?? Number.POSITIVE_INFINITY;
              for (const candle of older.get(s)?.candles ?? [])
                if (candle.openTimeMs < first) merged.push({ s, candle });
              for (const candle of held) merged.push({ s, candle });
            }
            merged.sort((a, b) => a.candle.openTimeMs - b.candle.openTimeMs);
            for (const { s, candle } of merged) replay.push(encodeCandle(candle, s));
          }
          if (!closedOnly) {
            for (const s of streams) {
              const open = hub.openCandle(s);
              if (open) replay.push(encodeCandle(open, s));
            }
          }
          writer.replay(replay);
        },
        (err: unknown) => {
          if (!lifetime.ended) call.emit('error', historyError(err));
        },
      );
    },

    streamTrades(call: ServerWritableStream<StreamTradesRequest, Buffer>): void {
      let streams: string[];
      try {
        streams = validateStreams(hub, call.request.streams, 'trade');
      } catch (err) {
        invalid(call, err);
        return;
      }
      const wanted = new Set(streams);
      const writer = track(deps, call, 'StreamTrades');
      if (!writer) return;
      const unsubscribe = hub.subscribe((event) => {
        if (event.data.type !== 'trade' || !wanted.has(event.stream)) return;
        writer.push(
          event.memo(TRADE_BYTES, (e) =>
            e.data.type === 'trade'
              ? Buffer.from(TradeMsg.encode(tradeToProto(e.data.trade, e.stream)).finish())
              : Buffer.alloc(0),
          ),
        );
      });
      bindLifetime(deps, call, writer).set(unsubscribe);
    },

    streamFeedStatus(call: ServerWritableStream<unknown, Buffer>): void {
      const writer = track(deps, call, 'StreamFeedStatus');
      if (!writer) return;
      const encode = (e: FeedStatusEvent) =>
        Buffer.from(
          FeedStatusMsg.encode({
            kind: STATUS_KIND[e.kind],
            stream: e.stream,
            fromOpenTimeMs: e.fromOpenTimeMs ?? 0,
            toOpenTimeMs: e.toOpenTimeMs ?? 0,
            fromTradeId: e.fromTradeId ?? 0,
            toTradeId: e.toTradeId ?? 0,
            detail: e.detail ?? '',
            lost: e.lost ?? false,
            timeMs: e.timeMs,
            exchange: hub.exchange,
          }).finish(),
        );
      const unsubscribe = hub.onStatus((e) => writer.push(encode(e)));
      // The current state first, so a new subscriber knows where it stands.
      writer.replay([
        encode({
          kind: hub.isReady() ? 'connected' : 'disconnected',
          stream: '',
          timeMs: Date.now(),
          detail: 'current state',
        }),
      ]);
      bindLifetime(deps, call, writer).set(unsubscribe);
    },

    getCandles(
      call: ServerUnaryCall<GetCandlesRequest, GetCandlesResponse>,
      callback: sendUnaryData<GetCandlesResponse>,
    ): void {
      const { stream, startTimeMs, endTimeMs, limit, heldOnly } = call.request;
      try {
        validateStreams(hub, [stream], 'kline');
        if (limit < 0 || limit > 1000)
          throw new InvalidArgument('limit must be between 0 (default 500) and 1000');
        if (startTimeMs < 0 || endTimeMs < 0)
          throw new InvalidArgument('start_time_ms and end_time_ms must be >= 0');
        if (startTimeMs > 0 && endTimeMs > 0 && startTimeMs > endTimeMs) {
          throw new InvalidArgument('start_time_ms must not be after end_time_ms');
        }
      } catch (err) {
        callback({
          code: status.INVALID_ARGUMENT,
          details: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      if (!hub.isHistoryLoaded()) {
        callback({ code: status.UNAVAILABLE, details: 'history is still loading; retry shortly' });
        return;
      }
      hub
        .candles(stream, {
          ...(startTimeMs > 0 ? { startTimeMs } : {}),
          ...(endTimeMs > 0 ? { endTimeMs } : {}),
          limit: limit || 500,
          heldOnly,
        })
        .then(
          (candles) => callback(null, { candles: candles.map((c) => candleToProto(c, stream)) }),
          (err: unknown) => callback(historyError(err)),
        );
    },

    listStreams(
      _call: ServerUnaryCall<unknown, ListStreamsResponse>,
      callback: sendUnaryData<ListStreamsResponse>,
    ): void {
      callback(null, {
        streams: hub.streams().map((s) => ({
          stream: s.stream,
          symbol: s.symbol,
          interval: s.interval ?? '',
          kind: s.kind === 'kline' ? StreamKind.STREAM_KIND_KLINE : StreamKind.STREAM_KIND_TRADE,
          exchange: hub.exchange,
        })),
      });
    },
  };
}

/** The seed's KlineService: every kline update of every stream, to every client. */
export function createKlineHandlers(deps: StreamingDeps) {
  return {
    streamKlines(call: ServerWritableStream<seedProto.TradeRequest, Buffer>): void {
      const writer = track(deps, call, 'StreamKlines');
      if (!writer) return;
      const unsubscribe = deps.hub.subscribe((event) => {
        if (event.data.type !== 'candle') return;
        writer.push(
          event.memo(KLINE_DATA_BYTES, (e) =>
            e.data.type === 'candle'
              ? Buffer.from(seedProto.KlineData.encode(candleToKlineData(e.data.candle)).finish())
              : Buffer.alloc(0),
          ),
        );
      });
      bindLifetime(deps, call, writer).set(unsubscribe);
    },
  };
}
