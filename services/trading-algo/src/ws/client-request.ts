import { type AlgoClientMessage, algoClientMessageSchema, type ErrorMessage } from '@visualgo/contracts';
import { parseStreamName } from '@visualgo/market';
import { boundMessage, listForMessage } from '@visualgo/platform';

export type ClientRequestResult =
  | { readonly ok: true; readonly request: AlgoClientMessage }
  | { readonly ok: false; readonly error: ErrorMessage };

const error = (code: ErrorMessage['code'], message: string): ClientRequestResult => ({
  ok: false,
  error: { type: 'error', code, message },
});

const USAGE = 'expected {"op":"subscribe"|"unsubscribe","streams":["btcusdt@kline_1m", ...]}';

/** Parses one text frame from a client; never throws. */
export function parseClientRequest(text: string): ClientRequestResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return error('bad-json', `message is not JSON; ${USAGE}`);
  }
  const parsed = algoClientMessageSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
    return error('bad-request', boundMessage(`${where}${first?.message ?? 'invalid message'}; ${USAGE}`));
  }
  return { ok: true, request: parsed.data };
}

/**
 * Checks stream names a client asked for: each must be a kline stream name, and, once the feed
 * has listed what data-ingest serves, one of those. Returns an error message, or null when valid.
 */
export function checkStreams(
  streams: readonly string[],
  known: ReadonlySet<string> | null,
): ErrorMessage | null {
  const malformed = streams.filter((s) => parseStreamName(s)?.kind !== 'kline');
  if (malformed.length > 0) {
    return {
      type: 'error',
      code: 'bad-request',
      message: `not kline stream names: ${listForMessage(malformed)} (expected e.g. btcusdt@kline_1m)`,
    };
  }
  if (known === null) return null;
  const unknown = streams.filter((s) => !known.has(s));
  if (unknown.length === 0) return null;
  return {
    type: 'error',
    code: 'unknown-stream',
    message: `unknown stream(s): ${listForMessage(unknown)}; served: ${listForMessage([...known])}`,
  };
}
