/**
 * The live-subscription methods of Binance's market-data WebSocket (`SUBSCRIBE`, `UNSUBSCRIBE`,
 * `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`): request parsing and replies in
 * Binance's wire form. Success: `{"result":null,"id":1}`. Failure:
 * `{"error":{"code":2,"msg":"Invalid request: ..."},"id":1}` with Binance's codes (0 unknown
 * property, 1 bad value type, 2 invalid request, 3 invalid JSON) and messages, minus the serde
 * "at line 1 column N" positions.
 */
import { binanceMethod } from '@visualgo/contracts';
import { truncateInput } from '@visualgo/platform';

export type MethodId = number | string | null;

export type MethodRequest =
  | {
      readonly method: 'SUBSCRIBE' | 'UNSUBSCRIBE';
      readonly streams: readonly string[];
      readonly id: MethodId;
    }
  | { readonly method: 'LIST_SUBSCRIPTIONS'; readonly id: MethodId }
  | {
      readonly method: 'SET_PROPERTY';
      readonly property: 'combined';
      readonly value: boolean;
      readonly id: MethodId;
    }
  | { readonly method: 'GET_PROPERTY'; readonly property: 'combined'; readonly id: MethodId };

export interface MethodError {
  readonly code: 0 | 1 | 2 | 3;
  readonly msg: string;
  readonly id: MethodId;
}

export type ParsedMethod =
  | { readonly ok: true; readonly request: MethodRequest }
  | { readonly ok: false; readonly error: MethodError };

const METHODS = '`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`';
/** Binance accepts a 64-bit integer, an alphanumeric string of at most 36 characters, or null. */
const STRING_ID = /^[A-Za-z0-9_-]{1,36}$/;

function invalid(msg: string, id: MethodId, code: MethodError['code'] = 2): ParsedMethod {
  return { ok: false, error: { code, msg, id } };
}

function parseId(value: unknown): MethodId | undefined {
  if (value === null) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && STRING_ID.test(value)) return value;
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseMethodRequest(text: string): ParsedMethod {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // V8's message quotes part of the input; keep it short.
    const detail = err instanceof Error ? truncateInput(err.message, 100) : 'syntax error';
    return invalid(`Invalid JSON: ${detail}`, null, 3);
  }
  if (!isRecord(json)) return invalid('Invalid request: expected a JSON object', null);
  const id = parseId(json.id);
  if (!('method' in json)) return invalid('Invalid request: missing field `method`', id ?? null);
  const method = binanceMethod.safeParse(json.method);
  if (!method.success) {
    const shown = typeof json.method === 'string' ? json.method : (JSON.stringify(json.method) ?? '');
    return invalid(
      `Invalid request: unknown variant \`${truncateInput(shown)}\`, expected one of ${METHODS}`,
      id ?? null,
    );
  }
  if (id === undefined) return invalid('Invalid request: request ID must be an unsigned integer', null);
  const params = json.params;
  switch (method.data) {
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE': {
      if (!Array.isArray(params) || !params.every((p): p is string => typeof p === 'string')) {
        return invalid('Invalid request: params must be an array of stream names', id);
      }
      return { ok: true, request: { method: method.data, streams: params, id } };
    }
    case 'LIST_SUBSCRIPTIONS':
      return { ok: true, request: { method: 'LIST_SUBSCRIPTIONS', id } };
    case 'SET_PROPERTY':
    case 'GET_PROPERTY': {
      const list: readonly unknown[] = Array.isArray(params) ? params : [];
      const property = list[0];
      if (typeof property !== 'string') return invalid('Invalid request: property name must be a string', id);
      if (property !== 'combined') return invalid('Unknown property', id, 0);
      if (method.data === 'GET_PROPERTY') {
        if (list.length > 1) return invalid('Invalid request: too many parameters', id);
        return { ok: true, request: { method: 'GET_PROPERTY', property, id } };
      }
      if (list.length > 2) return invalid('Invalid request: too many parameters', id);
      const value = list[1];
      if (typeof value !== 'boolean') return invalid('Invalid value type: expected Boolean', id, 1);
      return { ok: true, request: { method: 'SET_PROPERTY', property, value, id } };
    }
  }
}

export function resultReply(result: null | boolean | readonly string[], id: MethodId): string {
  return JSON.stringify({ result, id });
}

export function errorReply(error: MethodError): string {
  return JSON.stringify({ error: { code: error.code, msg: error.msg }, id: error.id });
}
