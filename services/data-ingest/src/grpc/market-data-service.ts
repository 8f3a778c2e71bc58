import { type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, status } from '@grpc/grpc-js';
import {
  type CandleEvent,
  FEED_STREAM,
  type FeedStatus,
  HistoryUnavailable,
  type MarketBus,
  type MarketEvent,
  ReplayOutOfRange,
  SlowConsumerError,
  type SubscribeOptions,
  type TradeEvent,
  WireForm,
} from '@visualgo/bus';
import {
  candleToKlineData,
  candleToProto,
  int64Bound,
  marketDataProto,
  seedProto,
  toInt64,
  tradeToProto,
} from '@visualgo/contracts';
import { type Candle, formatStreamName } from '@visualgo/market';
import {
  boundMessage,
  clientAddress,
  type Logger,
  listForMessage,
  type PerAddressLimit,
  truncateInput,
} from '@visualgo/platform';
import type { IngestView } from '../hub/ingest-view.js';
import {
  compactStreamNames,
  MAX_STREAM_NAMES_PER_REQUEST,
  MalformedRequest,
  peerAddress,
  requestDecoder,
  type WireRequest,
} from './request-limits.js';
import { StreamCall } from './stream-call.js';

const {
  Candle: CandleMsg,
  Trade: TradeMsg,
  FeedStatus: FeedStatusMsg,
  FeedStatusKind,
  StreamKind,
  MarketDataService,
} = marketDataProto;
type StreamCandlesRequest = WireRequest<marketDataProto.StreamCandlesRequest>;
type StreamTradesRequest = WireRequest<marketDataProto.StreamTradesRequest>;
type GetCandlesRequest = WireRequest<marketDataProto.GetCandlesRequest>;
type GetCandlesResponse = marketDataProto.GetCandlesResponse;
type ListStreamsResponse = marketDataProto.ListStreamsResponse;

const passthrough = (bytes: Buffer): Buffer => bytes;

/**
 * The generated service definitions with streaming responses taken as already-encoded bytes,
 * so an event is encoded once for all subscribers instead of once per stream, and requests
 * decoded without throwing (a malformed one is answered INVALID_ARGUMENT) and with their stream
 * names de-duplicated, since grpc-js keeps the decoded request for the life of the call.
 */
export const MarketDataWire = {
  ...MarketDataService,
  streamCandles: {
    ...MarketDataService.streamCandles,
    requestDeserialize: requestDecoder(
      (b) => marketDataProto.StreamCandlesRequest.decode(b),
      (r) => ({ ...r, streams: compactStreamNames(r.streams) }),
    ),
    responseSerialize: passthrough,
  },
  getCandles: {
    ...MarketDataService.getCandles,
    requestDeserialize: requestDecoder((b) => marketDataProto.GetCandlesRequest.decode(b)),
  },
  streamTrades: {
    ...MarketDataService.streamTrades,
    requestDeserialize: requestDecoder(
      (b) => marketDataProto.StreamTradesRequest.decode(b),
      (r) => ({ ...r, streams: compactStreamNames(r.streams) }),
    ),
    responseSerialize: passthrough,
  },
  streamFeedStatus: {
    ...MarketDataService.streamFeedStatus,
    requestDeserialize: requestDecoder((b) => marketDataProto.StreamFeedStatusRequest.decode(b)),
    responseSerialize: passthrough,
  },
  listStreams: {
    ...MarketDataService.listStreams,
    requestDeserialize: requestDecoder((b) => marketDataProto.ListStreamsRequest.decode(b)),
  },
} as const;
export const KlineWire = {
  ...seedProto.KlineServiceService,
  streamKlines: {
    ...seedProto.KlineServiceService.streamKlines,
    // The seed's request carries a message it ignores; do not keep it for the life of the call.
    requestDeserialize: requestDecoder(
      (b) => seedProto.TradeRequest.decode(b),
      () => ({ message: '' }),
    ),
    responseSerialize: passthrough,
  },
} as const;

export const encodeCandle = (c: Candle, stream: string): Buffer =>
  Buffer.from(CandleMsg.encode(candleToProto(c, stream)).finish());

/** Each bus event is encoded once per message type, however many calls receive it. */
const candleBytes = new WireForm('grpc-candle', (e: CandleEvent) => encodeCandle(e.candle, e.stream));
const tradeBytes = new WireForm('grpc-trade', (e: TradeEvent) =>
  Buffer.from(TradeMsg.encode(tradeToProto(e.trade, e.stream)).finish()),
);
const klineDataBytes = new WireForm('grpc-seed-kline', (e: CandleEvent) =>
  Buffer.from(seedProto.KlineData.encode(candleToKlineData(e.candle)).finish()),
);

const STATUS_KIND: Record<FeedStatus['kind'], marketDataProto.FeedStatusKind> = {
  connected: FeedStatusKind.FEED_STATUS_KIND_CONNECTED,
  disconnected: FeedStatusKind.FEED_STATUS_KIND_DISCONNECTED,
  'gap-detected': FeedStatusKind.FEED_STATUS_KIND_GAP_DETECTED,
  'gap-filled': FeedStatusKind.FEED_STATUS_KIND_GAP_FILLED,
  'gap-unfilled': FeedStatusKind.FEED_STATUS_KIND_GAP_UNFILLED,
};

export interface StreamingDeps {
  /** Where streaming calls take their events from. */
  readonly bus: MarketBus;
  /** Streams, history, readiness. */
  readonly view: IngestView;
  readonly logger: Logger;
  /** Live messages queued per subscriber (its bus subscription) before it is cut off. */
  readonly maxQueued: number;
  /** Open streaming calls at most; each may hold a replay of history, so they are bounded. */
  readonly maxStreams: number;
  /** Open streaming calls per client address (0: no per-address limit). */
  readonly streamsPerAddress?: PerAddressLimit;
  /** Counts calls refused for a limit: `streams` (all clients), `streams_per_address`. */
  readonly onRefused?: (reason: 'streams' | 'streams_per_address') => void;
  /** Every open streaming call, so shutdown can end them. */
  readonly active: Set<StreamCall>;
  readonly onSlowConsumer?: (method: string) => void;
}

class InvalidArgument extends Error {}

function validateStreams(view: IngestView, requested: readonly string[], kind: 'kline' | 'trade'): string[] {
  if (requested.length > MAX_STREAM_NAMES_PER_REQUEST) {
    throw new InvalidArgument(`a request may name at most ${MAX_STREAM_NAMES_PER_REQUEST} streams`);
  }
  const served = view
    .streams()
    .filter((s) => s.kind === kind)
    .map(formatStreamName);
  if (requested.length === 0) return served;
  const known = new Set(served);
  for (const stream of requested) {
    if (!known.has(stream)) {
      const list = listForMessage(served);
      throw new InvalidArgument(
        `unknown ${kind} stream "${truncateInput(stream)}"; this server serves: ${list} (ListStreams lists them all)`,
      );
    }
  }
  return [...new Set(requested)];
}

/** The request, or a thrown InvalidArgument when its bytes were not a valid message. */
function wellFormed<T>(request: WireRequest<T>, what: string): T {
  if (request instanceof MalformedRequest) throw new InvalidArgument(`malformed ${what}: ${request.reason}`);
  return request;
}

/**
 * Admits a streaming call under the service-wide and per-address caps, or refuses it with
 * RESOURCE_EXHAUSTED; an admitted call is tracked until it ends.
 */
function track(deps: StreamingDeps, call: ServerWritableStream<unknown, Buffer>): StreamCall | null {
  if (deps.active.size >= deps.maxStreams) {
    deps.onRefused?.('streams');
    call.emit('error', {
      code: status.RESOURCE_EXHAUSTED,
      details: `too many open streams (at most ${deps.maxStreams}); retry later`,
    });
    return null;
  }
  const address = clientAddress(peerAddress(call.getPeer()));
  const perAddress = deps.streamsPerAddress;
  if (perAddress && !perAddress.tryAcquire(address)) {
    deps.onRefused?.('streams_per_address');
    call.emit('error', {
      code: status.RESOURCE_EXHAUSTED,
      details: `too many open streams from ${truncateInput(address)} (at most ${perAddress.limit} per address); retry later`,
    });
    return null;
  }
  const stream = new StreamCall(call);
  deps.active.add(stream);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    deps.active.delete(stream);
    perAddress?.release(address);
  };
  for (const event of ['cancelled', 'close', 'finish', 'error']) call.on(event, release);
  return stream;
}

/**
 * Serves one streaming call from the bus: admits it (`track`), subscribes for it (live from this
 * moment, replay joined by the bus), writes `first` when given (a snapshot that must follow the
 * subscription), then every event `encode` gives bytes for. The call ends with the right status
 * when the subscription fails: RESOURCE_EXHAUSTED for a slow consumer (counted and logged),
 * OUT_OF_RANGE or UNAVAILABLE for a replay that cannot be served.
 */
function serve(
  deps: StreamingDeps,
  call: ServerWritableStream<unknown, Buffer>,
  method: string,
  subscription: Omit<SubscribeOptions, 'signal' | 'maxQueued'>,
  encode: (event: MarketEvent) => Buffer | null,
  first?: () => Buffer,
): void {
  const admitted = track(deps, call);
  if (!admitted) return;
  const events = deps.bus.subscribe({ ...subscription, signal: admitted.signal, maxQueued: deps.maxQueued });
  if (first) void admitted.write(first());
  void admitted.pump(events, encode, (err) => {
    if (err instanceof SlowConsumerError) {
      deps.logger.warn({ method, peer: call.getPeer() }, 'slow gRPC consumer cut off');
      deps.onSlowConsumer?.(method);
      return {
        code: status.RESOURCE_EXHAUSTED,
        details: `client too slow: more than ${deps.maxQueued} messages queued`,
      };
    }
    return historyError(err);
  });
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
    details: boundMessage(err instanceof Error ? err.message : String(err)),
  });
}

export function createMarketDataHandlers(deps: StreamingDeps) {
  const { view } = deps;
  return {
    streamCandles(call: ServerWritableStream<StreamCandlesRequest, Buffer>): void {
      let streams: string[];
      let since: number;
      let closedOnly: boolean;
      try {
        const request = wellFormed(call.request, 'StreamCandlesRequest');
        streams = validateStreams(view, request.streams, 'kline');
        // Past 2^53 ms is past every candle: such a bound replays nothing, like any future one.
        since = int64Bound(request.sinceOpenTimeMs);
        closedOnly = request.closedOnly;
        if (since < 0) throw new InvalidArgument('since_open_time_ms must be >= 0');
      } catch (err) {
        invalid(call, err);
        return;
      }
      if (since > 0 && !view.isHistoryLoaded()) {
        // Replaying now would start from whatever happens to be loaded; the client retries.
        call.emit('error', { code: status.UNAVAILABLE, details: 'history is still loading; retry shortly' });
        return;
      }
      // Live events are taken from the moment of subscribing; the bus joins the replay to them by
      // sequence number, however long the replay takes to fetch.
      serve(
        deps,
        call,
        'StreamCandles',
        {
          streams,
          types: ['candle'],
          ...(since > 0 ? { sinceOpenTimeMs: since } : {}),
          withOpenCandle: !closedOnly,
        },
        (e) => (e.type === 'candle' && (e.candle.closed || !closedOnly) ? candleBytes.of(e) : null),
      );
    },

    streamTrades(call: ServerWritableStream<StreamTradesRequest, Buffer>): void {
      let streams: string[];
      try {
        streams = validateStreams(view, wellFormed(call.request, 'StreamTradesRequest').streams, 'trade');
      } catch (err) {
        invalid(call, err);
        return;
      }
      serve(deps, call, 'StreamTrades', { streams, types: ['trade'] }, (e) =>
        e.type === 'trade' ? tradeBytes.of(e) : null,
      );
    },

    streamFeedStatus(call: ServerWritableStream<WireRequest<unknown>, Buffer>): void {
      if (call.request instanceof MalformedRequest) {
        invalid(call, new InvalidArgument(`malformed StreamFeedStatusRequest: ${call.request.reason}`));
        return;
      }
      const encode = (stream: string, e: FeedStatus) =>
        Buffer.from(
          FeedStatusMsg.encode({
            kind: STATUS_KIND[e.kind],
            stream,
            fromOpenTimeMs: toInt64(e.fromOpenTimeMs ?? 0),
            toOpenTimeMs: toInt64(e.toOpenTimeMs ?? 0),
            fromTradeId: toInt64(e.fromTradeId ?? 0),
            toTradeId: toInt64(e.toTradeId ?? 0),
            detail: e.detail ?? '',
            lost: e.lost ?? false,
            timeMs: toInt64(e.timeMs),
            exchange: view.exchange,
          }).finish(),
        );
      // The current state first, so a new subscriber knows where it stands: the kind is the
      // service's readiness, the detail says why it is not ready. It is taken after subscribing,
      // so that no change can fall between the two.
      const current = () => {
        const { ready, reasons } = view.readiness();
        return encode(FEED_STREAM, {
          kind: ready ? 'connected' : 'disconnected',
          timeMs: Date.now(),
          detail: boundMessage(
            ready ? 'current state: ready' : `current state: not ready: ${reasons.join('; ')}`,
          ),
        });
      };
      serve(
        deps,
        call,
        'StreamFeedStatus',
        { streams: [...view.streams().map(formatStreamName), FEED_STREAM], types: ['status'] },
        (e) => (e.type === 'status' ? encode(e.stream, e.status) : null),
        current,
      );
    },

    getCandles(
      call: ServerUnaryCall<GetCandlesRequest, GetCandlesResponse>,
      callback: sendUnaryData<GetCandlesResponse>,
    ): void {
      let stream: string;
      let startTimeMs: number;
      let endTimeMs: number;
      let limit: number;
      let heldOnly: boolean;
      try {
        const request = wellFormed(call.request, 'GetCandlesRequest');
        stream = request.stream;
        // INT64_MAX (or anything past 2^53 ms) as end_time_ms means "no bound", like 0.
        startTimeMs = int64Bound(request.startTimeMs);
        endTimeMs = int64Bound(request.endTimeMs);
        limit = request.limit;
        heldOnly = request.heldOnly;
        validateStreams(view, [stream], 'kline');
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
          details: boundMessage(err instanceof Error ? err.message : String(err)),
        });
        return;
      }
      if (!view.isHistoryLoaded()) {
        callback({ code: status.UNAVAILABLE, details: 'history is still loading; retry shortly' });
        return;
      }
      view
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
      call: ServerUnaryCall<WireRequest<unknown>, ListStreamsResponse>,
      callback: sendUnaryData<ListStreamsResponse>,
    ): void {
      if (call.request instanceof MalformedRequest) {
        callback({
          code: status.INVALID_ARGUMENT,
          details: `malformed ListStreamsRequest: ${call.request.reason}`,
        });
        return;
      }
      callback(null, {
        streams: view.streams().map((s) => ({
          stream: formatStreamName(s),
          symbol: s.symbol,
          interval: s.kind === 'kline' ? s.interval : '',
          kind: s.kind === 'kline' ? StreamKind.STREAM_KIND_KLINE : StreamKind.STREAM_KIND_TRADE,
          exchange: view.exchange,
        })),
      });
    },
  };
}

/** The seed's KlineService: every kline update of every stream, to every client. */
export function createKlineHandlers(deps: StreamingDeps) {
  return {
    streamKlines(call: ServerWritableStream<WireRequest<seedProto.TradeRequest>, Buffer>): void {
      if (call.request instanceof MalformedRequest) {
        invalid(call, new InvalidArgument(`malformed TradeRequest: ${call.request.reason}`));
        return;
      }
      const streams = deps.view
        .streams()
        .filter((s) => s.kind === 'kline')
        .map(formatStreamName);
      serve(deps, call, 'StreamKlines', { streams, types: ['candle'] }, (e) =>
        e.type === 'candle' ? klineDataBytes.of(e) : null,
      );
    },
  };
}
