import type { ClientUnaryCall, Metadata, ServiceError } from '@grpc/grpc-js';
import type { marketDataProto } from '@visualgo/contracts';

type Callback<T> = (err: ServiceError | null, res: T) => void;

/** One unary call with a deadline, cancelled when `signal` aborts. */
function unary<T>(
  start: (metadata: Metadata, options: { deadline: number }, callback: Callback<T>) => ClientUnaryCall,
  metadata: Metadata,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const call = start(metadata, { deadline: Date.now() + timeoutMs }, (err, res) => {
      signal.removeEventListener('abort', cancel);
      if (err) reject(err);
      else resolve(res);
    });
    const cancel = () => call.cancel();
    signal.addEventListener('abort', cancel, { once: true });
  });
}

export function listStreams(
  client: marketDataProto.MarketDataClient,
  metadata: Metadata,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<marketDataProto.ListStreamsResponse> {
  return unary((md, options, cb) => client.listStreams({}, md, options, cb), metadata, timeoutMs, signal);
}

export function getCandles(
  client: marketDataProto.MarketDataClient,
  request: marketDataProto.GetCandlesRequest,
  metadata: Metadata,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<marketDataProto.GetCandlesResponse> {
  return unary((md, options, cb) => client.getCandles(request, md, options, cb), metadata, timeoutMs, signal);
}
