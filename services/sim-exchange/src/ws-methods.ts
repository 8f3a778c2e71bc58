/**
 * Live subscription requests on a stream connection (`SUBSCRIBE`, `UNSUBSCRIBE`,
 * `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`) parsed into actions, and Binance's
 * replies. Error texts follow Binance's "Error Messages" table; on the wire Binance nests the
 * error under `error` next to the request id: `{"error":{"code":2,"msg":"..."},"id":1}`.
 */

export type RequestId = number | string | null;

export const METHOD_NAMES = [
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'LIST_SUBSCRIPTIONS',
  'SET_PROPERTY',
  'GET_PROPERTY',
] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

export type MethodAction =
  | {
      readonly kind: 'subscribe' | 'unsubscribe';
      readonly streams: readonly string[];
      readonly id: RequestId;
    }
  | { readonly kind: 'list'; readonly id: RequestId }
  | { readonly kind: 'setCombined'; readonly value: boolean; readonly id: RequestId }
  | { readonly kind: 'getCombined'; readonly id: RequestId }
  | {
      readonly kind: 'error';
      readonly code: number;
      readonly msg: string;
      readonly id: RequestId;
      /** The method, when the request named a known one. */
      readonly method: MethodName | null;
    };

const ID_STRING = /^[A-Za-z0-9-]{1,36}$/;
/** Lower-case symbol streams (`btcusdt@kline_1m`, `btcusdt@depth@100ms`) and `!`-prefixed all-market ones. */
const STREAM_NAME = /^(?:[a-z0-9]{2,30}@[A-Za-z0-9_@.:+-]{1,40}|![A-Za-z0-9_@.:+-]{1,40})$/;

export function isWellFormedStreamName(name: string): boolean {
  return STREAM_NAME.test(name);
}

function error(code: number, msg: string, id: RequestId, method: MethodName | null = null): MethodAction {
  return { kind: 'error', code, msg, id, method };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Position after `offset` characters as serde reports it: 1-based line, characters consumed on it. */
function position(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  const column = before.length - (before.lastIndexOf('\n') + 1);
  return `line ${line} column ${column}`;
}

function jsonErrorOffset(text: string, err: unknown): number {
  const match = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  return match?.[1] !== undefined ? Number(match[1]) : text.length;
}

function validId(value: unknown): value is RequestId {
  if (value === null) return true;
  if (typeof value === 'number') return Number.isSafeInteger(value);
  return typeof value === 'string' && ID_STRING.test(value);
}

/** Parses one text frame a client sent. */
export function parseMethodRequest(text: string): MethodAction {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return error(3, `Invalid JSON: expected value at ${position(text, jsonErrorOffset(text, err))}`, null);
  }
  if (!isRecord(parsed)) return error(2, 'Invalid request: expected a JSON object', null);
  const method = parsed.method;
  if (method === undefined) {
    return error(2, `Invalid request: missing field \`method\` at ${position(text, text.length)}`, null);
  }
  const known = METHOD_NAMES.find((m) => m === method);
  if (known === undefined) {
    const shown = typeof method === 'string' ? method : JSON.stringify(method);
    const at = text.indexOf(JSON.stringify(method)) + JSON.stringify(method).length;
    return error(
      2,
      `Invalid request: unknown variant \`${shown}\`, expected one of ${METHOD_NAMES.map((m) => `\`${m}\``).join(', ')} at ${position(text, at)}`,
      null,
    );
  }
  const id = parsed.id;
  if (!validId(id)) return error(2, 'Invalid request: request ID must be an unsigned integer', null, known);
  const params = parsed.params;
  if (params !== undefined && !Array.isArray(params))
    return error(2, 'Invalid request: invalid params', id, known);
  const list: readonly unknown[] = params ?? [];

  switch (known) {
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE': {
      const streams: string[] = [];
      for (const p of list) {
        if (typeof p !== 'string' || !isWellFormedStreamName(p)) {
          return error(2, 'Invalid request: invalid stream', id, known);
        }
        streams.push(p);
      }
      return { kind: known === 'SUBSCRIBE' ? 'subscribe' : 'unsubscribe', streams, id };
    }
    case 'LIST_SUBSCRIPTIONS':
      return list.length > 0
        ? error(2, 'Invalid request: too many parameters', id, known)
        : { kind: 'list', id };
    case 'SET_PROPERTY': {
      if (list.length > 2) return error(2, 'Invalid request: too many parameters', id, known);
      const [name, value] = list;
      if (typeof name !== 'string')
        return error(2, 'Invalid request: property name must be a string', id, known);
      if (name !== 'combined') return error(0, 'Unknown property', id, known);
      if (typeof value !== 'boolean') return error(1, 'Invalid value type: expected Boolean', id, known);
      return { kind: 'setCombined', value, id };
    }
    case 'GET_PROPERTY': {
      if (list.length > 1) return error(2, 'Invalid request: too many parameters', id, known);
      const [name] = list;
      if (typeof name !== 'string')
        return error(2, 'Invalid request: property name must be a string', id, known);
      if (name !== 'combined') return error(0, 'Unknown property', id, known);
      return { kind: 'getCombined', id };
    }
  }
}

export function resultReply(result: null | boolean | readonly string[], id: RequestId): string {
  return JSON.stringify({ result, id });
}

export function errorReply(code: number, msg: string, id: RequestId): string {
  return JSON.stringify({ error: { code, msg }, id });
}
