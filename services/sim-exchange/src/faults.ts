import { randomBytes } from 'node:crypto';
import type { ConnectionInfo } from './ws-server.js';

/** Kinds of bad frames the exchange can be told to send. */
export const MALFORMED_KINDS = [
  /** Not JSON at all. */
  'invalid-json',
  /** A real-looking event cut off half-way. */
  'truncated',
  /** Valid JSON, an event type nobody knows. */
  'unknown-event',
  /** A kline event with `k.c` and `k.x` missing. */
  'missing-fields',
  /** A kline event whose prices are numbers and whose volume is negative. */
  'wrong-types',
  /** A binary frame of random bytes. */
  'binary',
  /** An empty text frame. */
  'empty',
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** The first kline stream a connection listens to, for realistic bad frames. */
function sampleStream(conn: ConnectionInfo): { stream: string; symbol: string; interval: string } {
  const kline = conn.streams.find((s) => s.includes('@kline_')) ?? conn.streams[0] ?? 'btcusdt@kline_1m';
  const [symbol = 'btcusdt', rest = 'kline_1m'] = kline.split('@');
  return { stream: kline, symbol: symbol.toUpperCase(), interval: rest.replace('kline_', '') };
}

function wrap(conn: ConnectionInfo, stream: string, data: string): string {
  return conn.combined ? `{"stream":"${stream}","data":${data}}` : data;
}

/** Builds one malformed frame for a connection; valid-JSON kinds are wrapped on combined connections. */
export function malformedFrame(
  kind: MalformedKind,
  conn: ConnectionInfo,
  marketNowMs: number,
): string | Buffer {
  const { stream, symbol, interval } = sampleStream(conn);
  const openTime = marketNowMs - (marketNowMs % 60_000);
  const kline = {
    e: 'kline',
    E: marketNowMs,
    s: symbol,
    k: {
      t: openTime,
      T: openTime + 59_999,
      s: symbol,
      i: interval,
      f: 100,
      L: 200,
      o: '100.00000000',
      c: '101.00000000',
      h: '102.00000000',
      l: '99.00000000',
      v: '10.00000000',
      n: 101,
      x: false,
      q: '1005.00000000',
      V: '5.00000000',
      Q: '502.00000000',
      B: '0',
    },
  };
  switch (kind) {
    case 'invalid-json':
      return '{"e":"kline","E":,,not json';
    case 'truncated': {
      const full = wrap(conn, stream, JSON.stringify(kline));
      return full.slice(0, Math.floor(full.length / 2));
    }
    case 'unknown-event':
      return wrap(conn, stream, JSON.stringify({ e: 'mysteryEvent', E: marketNowMs, s: symbol, z: 42 }));
    case 'missing-fields': {
      const { c: _close, x: _closed, ...k } = kline.k;
      return wrap(conn, stream, JSON.stringify({ ...kline, k }));
    }
    case 'wrong-types':
      return wrap(
        conn,
        stream,
        JSON.stringify({ ...kline, k: { ...kline.k, o: 100, c: 101, h: 102, l: 99, v: '-10' } }),
      );
    case 'binary':
      return randomBytes(32);
    case 'empty':
      return '';
  }
}

/** How REST misbehaves while a fault is active. */
export type RestFaultMode = '429' | '418' | '500' | '503' | 'timeout' | 'reset';
export const REST_FAULT_MODES: readonly RestFaultMode[] = ['429', '418', '500', '503', 'timeout', 'reset'];

export interface RestFaultSpec {
  readonly mode: RestFaultMode;
  /** Number of requests affected; unlimited when absent (use durationMs or clear it). */
  readonly count?: number;
  /** Wall time the fault lasts; unlimited when absent. */
  readonly durationMs?: number;
  /** Only requests whose path starts with this (e.g. `/api/v3/klines`). */
  readonly pathPrefix?: string;
  /** Retry-After seconds for 429 and 418 (default 1). */
  readonly retryAfterSec?: number;
}

interface ActiveRestFault {
  readonly spec: RestFaultSpec;
  remaining: number;
  readonly untilMs: number;
}

/** The queue of injected REST faults; the first active one matching a request applies. */
export class RestFaults {
  private faults: ActiveRestFault[] = [];

  constructor(private readonly wallNowMs: () => number = Date.now) {}

  add(spec: RestFaultSpec): void {
    this.faults.push({
      spec,
      remaining: spec.count ?? Number.POSITIVE_INFINITY,
      untilMs: spec.durationMs === undefined ? Number.POSITIVE_INFINITY : this.wallNowMs() + spec.durationMs,
    });
  }

  clear(): void {
    this.faults = [];
  }

  active(): RestFaultSpec[] {
    this.prune();
    return this.faults.map((f) => f.spec);
  }

  /** The fault to apply to a request for `path`, consuming one use of it. */
  take(path: string): RestFaultSpec | null {
    this.prune();
    const fault = this.faults.find(
      (f) => f.spec.pathPrefix === undefined || path.startsWith(f.spec.pathPrefix),
    );
    if (!fault) return null;
    fault.remaining--;
    return fault.spec;
  }

  private prune(): void {
    const now = this.wallNowMs();
    this.faults = this.faults.filter((f) => f.remaining > 0 && f.untilMs > now);
  }
}

/** How new connections are refused. */
export type RefuseMode = 'http-503' | 'reset' | 'unlisten';
export const REFUSE_MODES: readonly RefuseMode[] = ['http-503', 'reset', 'unlisten'];
