import { truncateInput } from '@visualgo/platform';

/**
 * Stream names one StreamCandles or StreamTrades request may carry: as many as a Binance
 * connection may follow. A legitimate client names each stream it wants once.
 */
export const MAX_STREAM_NAMES_PER_REQUEST = 1024;

/**
 * Largest request message the gRPC server accepts (`grpc.max_receive_message_length`; grpc-js's
 * default is 4 MiB). The largest legitimate request names 1024 streams of at most 30 characters
 * (a 20-character symbol, `@kline_`, a 3-character interval), 32 bytes each on the wire, plus
 * two scalar fields: about 32 KiB. Twice that leaves headroom; anything larger is refused with
 * RESOURCE_EXHAUSTED before it is decoded.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** What a request decoder returns for bytes that are not a valid message: answered INVALID_ARGUMENT. */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

export type WireRequest<T> = T | MalformedRequest;

/**
 * Wraps a generated decoder so that a malformed request becomes a value the handler answers with
 * INVALID_ARGUMENT (grpc-js answers a throwing decoder with INTERNAL), and lets `compact` shrink
 * the decoded request before grpc-js keeps it for the life of the call.
 */
export function requestDecoder<T>(
  decode: (bytes: Uint8Array) => T,
  compact: (request: T) => T = (r) => r,
): (bytes: Buffer) => WireRequest<T> {
  return (bytes) => {
    try {
      return compact(decode(bytes));
    } catch (err) {
      return new MalformedRequest(truncateInput(err instanceof Error ? err.message : String(err), 120));
    }
  };
}

/**
 * The stream names of a request as the call will hold them: de-duplicated (first occurrence
 * first), or, past the cap, only enough of them for the handler to refuse the request.
 */
export function compactStreamNames(names: string[]): string[] {
  if (names.length > MAX_STREAM_NAMES_PER_REQUEST) return names.slice(0, MAX_STREAM_NAMES_PER_REQUEST + 1);
  return names.length < 2 ? names : [...new Set(names)];
}

/** The client's address from grpc-js's peer string (`10.0.0.7:52814`, `::1:52814`). */
export function peerAddress(peer: string): string {
  return peer.replace(/:\d+$/, '');
}
