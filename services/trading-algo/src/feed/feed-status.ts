import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { type FeedState, feedStatusNumbers, marketDataProto, type StatusMessage } from '@visualgo/contracts';
import { type ExchangeId, isExchangeId } from '@visualgo/market';

const { FeedStatusKind } = marketDataProto;

const UPSTREAM_STATE: Partial<Record<marketDataProto.FeedStatusKind, FeedState>> = {
  [FeedStatusKind.FEED_STATUS_KIND_CONNECTED]: 'connected',
  [FeedStatusKind.FEED_STATUS_KIND_DISCONNECTED]: 'disconnected',
  [FeedStatusKind.FEED_STATUS_KIND_GAP_DETECTED]: 'gap-detected',
  [FeedStatusKind.FEED_STATUS_KIND_GAP_FILLED]: 'gap-filled',
  [FeedStatusKind.FEED_STATUS_KIND_GAP_UNFILLED]: 'gap-unfilled',
};

export function exchangeIdOf(value: string): ExchangeId | null {
  return isExchangeId(value) ? value : null;
}

/** data-ingest's view of its exchange connection as a `status` message; null for an unknown kind. */
export function upstreamStatusMessage(p: marketDataProto.FeedStatus): StatusMessage | null {
  const state = UPSTREAM_STATE[p.kind];
  if (state === undefined) return null;
  const n = feedStatusNumbers(p);
  return {
    type: 'status',
    scope: 'upstream',
    state,
    stream: p.stream === '' ? null : p.stream,
    exchange: exchangeIdOf(p.exchange),
    fromOpenTimeMs: n.fromOpenTimeMs > 0 ? n.fromOpenTimeMs : null,
    toOpenTimeMs: n.toOpenTimeMs > 0 ? n.toOpenTimeMs : null,
    detail: p.detail === '' ? null : p.detail,
    timeMs: Math.max(n.timeMs, 0),
  };
}

export interface FeedStatusFields {
  readonly stream?: string;
  readonly exchange?: ExchangeId | null;
  readonly fromOpenTimeMs?: number;
  readonly toOpenTimeMs?: number;
  readonly detail?: string;
}

/** A `status` message about trading-algo's own link to data-ingest. */
export function feedStatusMessage(
  state: FeedState,
  timeMs: number,
  fields: FeedStatusFields = {},
): StatusMessage {
  return {
    type: 'status',
    scope: 'feed',
    state,
    stream: fields.stream ?? null,
    exchange: fields.exchange ?? null,
    fromOpenTimeMs: fields.fromOpenTimeMs ?? null,
    toOpenTimeMs: fields.toOpenTimeMs ?? null,
    detail: fields.detail ?? null,
    timeMs,
  };
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && 'code' in err && typeof err.code === 'number' && 'details' in err;
}

export function grpcCodeOf(err: unknown): number | null {
  return isServiceError(err) ? err.code : null;
}

/** `UNAVAILABLE: No connection established`, for logs and status details. */
export function describeGrpcError(err: unknown): string {
  if (isServiceError(err)) {
    const name = grpcStatus[err.code] ?? String(err.code);
    return err.details ? `${name}: ${err.details}` : name;
  }
  return err instanceof Error ? err.message : String(err);
}
