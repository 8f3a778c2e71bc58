import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BinanceKlineRow } from '@visualgo/contracts';
import { createLogger } from '@visualgo/platform';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BinanceRestClient,
  type BinanceRestClientOptions,
  BinanceRestError,
  parseRetryAfterMs,
} from './binance-rest.js';

const logger = createLogger({ name: 'binance-rest-test', level: 'silent' });
const MINUTE = 60_000;
/** 2024-01-01T00:00:00Z */
const BASE_OPEN = 1704067200000;

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

interface TestServer {
  readonly baseUrl: string;
  readonly requests: URL[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function startServer(handler: Handler): Promise<TestServer> {
  const requests: URL[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(url);
    handler(req, res, url);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function row(openTime: number): BinanceKlineRow {
  return [
    openTime,
    '100.00000000',
    '101.00000000',
    '99.50000000',
    '100.50000000',
    '12.00000000',
    openTime + MINUTE - 1,
    '1206.00000000',
    42,
    '6.00000000',
    '603.00000000',
    '0',
  ];
}

/** Serves `count` one-minute rows from BASE_OPEN with Binance's startTime/endTime/limit semantics. */
function klinesHandler(count: number, weightPerRequest = 2): Handler {
  let weight = 0;
  return (_req, res, url) => {
    if (url.pathname !== '/api/v3/klines') return json(res, 404, { code: -1, msg: 'not found' });
    weight += weightPerRequest;
    const start = Number(url.searchParams.get('startTime') ?? BASE_OPEN);
    const end = Number(url.searchParams.get('endTime') ?? Number.MAX_SAFE_INTEGER);
    const limit = Math.min(1000, Number(url.searchParams.get('limit') ?? 500));
    const rows: BinanceKlineRow[] = [];
    for (let i = 0; i < count && rows.length < limit; i++) {
      const t = BASE_OPEN + i * MINUTE;
      if (t >= start && t <= end) rows.push(row(t));
    }
    json(res, 200, rows, { 'x-mbx-used-weight-1m': String(weight) });
  };
}

function client(baseUrl: string, options: Partial<BinanceRestClientOptions> = {}): BinanceRestClient {
  return new BinanceRestClient({
    baseUrl,
    exchange: 'binance-sim',
    logger,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 20, maxMs: 50, jitter: 0 },
    ...options,
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('BinanceRestClient.klines', () => {
  it('requests one page with Binance parameters and returns validated rows', async () => {
    const server = await startServer(klinesHandler(10));
    const rows = await client(server.baseUrl).klines({
      symbol: 'ethusdt',
      interval: '1m',
      startTime: BASE_OPEN + 2 * MINUTE,
      limit: 3,
    });
    expect(rows).toEqual([
      row(BASE_OPEN + 2 * MINUTE),
      row(BASE_OPEN + 3 * MINUTE),
      row(BASE_OPEN + 4 * MINUTE),
    ]);
    expect(server.requests[0]?.pathname).toBe('/api/v3/klines');
    expect(Object.fromEntries(server.requests[0]?.searchParams ?? [])).toEqual({
      symbol: 'ETHUSDT',
      interval: '1m',
      startTime: String(BASE_OPEN + 2 * MINUTE),
      limit: '3',
    });
  });

  it('tracks the used weight reported in X-MBX-USED-WEIGHT-1M', async () => {
    const server = await startServer(klinesHandler(5, 7));
    const rest = client(server.baseUrl);
    await rest.klines({ symbol: 'ETHUSDT', interval: '1m' });
    expect(rest.stats().usedWeight).toBe(7);
    await rest.klines({ symbol: 'ETHUSDT', interval: '1m' });
    expect(rest.stats().usedWeight).toBe(14);
  });

  it('rejects a 2xx body that does not match the schema, without retrying', async () => {
    const server = await startServer((_req, res) => json(res, 200, [[1, 'x']]));
    const error = await rejection(client(server.baseUrl).klines({ symbol: 'ETHUSDT', interval: '1m' }));
    expect(error).toBeInstanceOf(BinanceRestError);
    expect(error).toMatchObject({ kind: 'invalid-response', attempts: 1 });
    expect(server.requests.length).toBe(1);
  });

  it('turns a Binance error body into a named error and does not retry', async () => {
    const server = await startServer((_req, res) => json(res, 400, { code: -1121, msg: 'Invalid symbol.' }));
    const error = await rejection(client(server.baseUrl).klines({ symbol: 'NOPE', interval: '1m' }));
    expect(error).toBeInstanceOf(BinanceRestError);
    expect(error).toMatchObject({ kind: 'rejected', status: 400, code: -1121, attempts: 1 });
    expect((error as Error).message).toContain('Invalid symbol.');
    expect(server.requests.length).toBe(1);
  });

  it('refuses a limit Binance would reject', async () => {
    const rest = client('http://127.0.0.1:1');
    await expect(rest.klines({ symbol: 'ETHUSDT', interval: '1m', limit: 1001 })).rejects.toThrow(RangeError);
  });
});

describe('BinanceRestClient.klinesRange', () => {
  it('pages forward across more than 1000 rows to cover the range exactly', async () => {
    const server = await startServer(klinesHandler(2500));
    const rows = await client(server.baseUrl).klinesRange({
      symbol: 'ETHUSDT',
      interval: '1m',
      fromOpenTimeMs: BASE_OPEN + 5 * MINUTE,
      toOpenTimeMs: BASE_OPEN + 2304 * MINUTE,
    });
    expect(rows.length).toBe(2300);
    rows.forEach((r, i) => {
      expect(r[0]).toBe(BASE_OPEN + (5 + i) * MINUTE);
    });
    expect(server.requests.map((u) => u.searchParams.get('startTime'))).toEqual([
      String(BASE_OPEN + 5 * MINUTE),
      String(BASE_OPEN + 1005 * MINUTE),
      String(BASE_OPEN + 2005 * MINUTE),
    ]);
    expect(server.requests.every((u) => u.searchParams.get('limit') === '1000')).toBe(true);
  });

  it('stops at a short page when the exchange has no more rows', async () => {
    const server = await startServer(klinesHandler(1500));
    const rows = await client(server.baseUrl).klinesRange({
      symbol: 'ETHUSDT',
      interval: '1m',
      fromOpenTimeMs: BASE_OPEN,
      toOpenTimeMs: BASE_OPEN + 5000 * MINUTE,
    });
    expect(rows.length).toBe(1500);
    expect(server.requests.length).toBe(2);
  });

  it('returns nothing for an empty range answer', async () => {
    const server = await startServer(klinesHandler(0));
    const rows = await client(server.baseUrl).klinesRange({
      symbol: 'ETHUSDT',
      interval: '1m',
      fromOpenTimeMs: BASE_OPEN,
      toOpenTimeMs: BASE_OPEN + 10 * MINUTE,
    });
    expect(rows).toEqual([]);
  });
});

describe('BinanceRestClient retries and limits', () => {
  it.each([429, 418])('waits Retry-After after HTTP %i, then succeeds', async (status) => {
    let calls = 0;
    const ok = klinesHandler(3);
    const server = await startServer((req, res, url) => {
      calls++;
      if (calls === 1)
        return json(res, status, { code: -1003, msg: 'Too many requests' }, { 'retry-after': '1' });
      ok(req, res, url);
    });
    const rest = client(server.baseUrl);
    const started = performance.now();
    const rows = await rest.klines({ symbol: 'ETHUSDT', interval: '1m' });
    expect(rows.length).toBe(3);
    // It waited out the Retry-After of 1 s (a wait of the 60 s default would time the test out).
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(rest.stats().rateLimited).toBe(1);
    expect(calls).toBe(2);
  });

  it('fails at once when Retry-After exceeds the bound the caller set', async () => {
    const server = await startServer((_req, res) =>
      json(res, 418, { code: -1003, msg: 'banned' }, { 'retry-after': '600' }),
    );
    const error = await rejection(client(server.baseUrl, { maxRetryAfterMs: 5000 }).serverTime());
    expect(error).toMatchObject({ kind: 'rate-limited', status: 418, retryAfterMs: 600_000 });
    // At once: one request, no wait and no retry.
    expect(server.requests).toHaveLength(1);
  });

  it('lets the caller abort while waiting out a rate limit', async () => {
    const server = await startServer((_req, res) =>
      json(res, 429, { code: -1003, msg: 'slow down' }, { 'retry-after': '30' }),
    );
    const controller = new AbortController();
    const pending = rejection(client(server.baseUrl).serverTime(controller.signal));
    // Abort once the 429 is in and the client waits out its 30 s (which would time this test out).
    while (server.requests.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort(new Error('caller gave up'));
    const error = await pending;
    expect((error as Error).message).toBe('caller gave up');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 5xx with backoff, then succeeds', async () => {
    let calls = 0;
    const server = await startServer((_req, res) => {
      calls++;
      if (calls <= 2) return json(res, 502, { code: -1000, msg: 'upstream' });
      json(res, 200, { serverTime: 1700000000123 });
    });
    const rest = client(server.baseUrl);
    expect(await rest.serverTime()).toBe(1700000000123);
    expect(calls).toBe(3);
    expect(rest.stats().retries).toBe(2);
  });

  it('gives up on persistent 5xx with a named error after maxAttempts', async () => {
    const server = await startServer((_req, res) => json(res, 500, { code: -1000, msg: 'down' }));
    const error = await rejection(client(server.baseUrl, { maxAttempts: 3 }).serverTime());
    expect(error).toBeInstanceOf(BinanceRestError);
    expect(error).toMatchObject({ kind: 'server', status: 500, attempts: 3 });
    expect(server.requests.length).toBe(3);
  });

  it('times out a request that gets no answer, retries, and reports timeout', async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    // Without the request timeout the server's silence would time this test out.
    const error = await rejection(
      client(server.baseUrl, { requestTimeoutMs: 150, maxAttempts: 2 }).serverTime(),
    );
    expect(error).toMatchObject({ kind: 'timeout', attempts: 2 });
    expect(server.requests.length).toBe(2);
  });

  it('retries after a timeout and succeeds when the server answers', async () => {
    let calls = 0;
    const server = await startServer((_req, res) => {
      calls++;
      if (calls > 1) json(res, 200, { serverTime: 42 });
    });
    expect(await client(server.baseUrl, { requestTimeoutMs: 150 }).serverTime()).toBe(42);
  });

  it('reports a refused connection as a network error carrying its cause', async () => {
    const server = await startServer(() => {});
    await server.close();
    const error = await rejection(client(server.baseUrl, { maxAttempts: 2 }).serverTime());
    expect(error).toMatchObject({ kind: 'network', attempts: 2 });
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).cause).toBeDefined();
  });

  it('pauses until the next minute before spending more than its share of the weight limit', async () => {
    // A clock 300 ms before a minute boundary, so the pause is short.
    const offset = Math.ceil(Date.now() / MINUTE) * MINUTE + 10 * MINUTE - 300 - Date.now();
    const now = () => Date.now() + offset;
    const server = await startServer((_req, res) => json(res, 200, [], { 'x-mbx-used-weight-1m': '7' }));
    // Budget: 80% of 10 = 8. After the first answer 7 are used; a request of weight 2 must wait.
    const pauses: number[] = [];
    const watching = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          const entry = JSON.parse(line) as { msg: string; waitMs?: number };
          if (entry.msg === 'REST weight budget spent, pausing' && entry.waitMs !== undefined)
            pauses.push(entry.waitMs);
        },
      },
    );
    const rest = client(server.baseUrl, { maxWeightPerMinute: 10, now, logger: watching });
    await rest.klines({ symbol: 'ETHUSDT', interval: '1m' });
    const started = performance.now();
    await rest.klines({ symbol: 'ETHUSDT', interval: '1m' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    // One pause, to the next minute plus the 250 ms margin: at most 300 + 250 ms from here.
    expect(pauses).toHaveLength(1);
    expect(pauses[0]).toBeGreaterThan(250);
    expect(pauses[0]).toBeLessThanOrEqual(550);
    expect(server.requests.length).toBe(2);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads seconds, HTTP dates, and defaults to 60 s', () => {
    expect(parseRetryAfterMs('1', 0)).toBe(1000);
    expect(parseRetryAfterMs(null, 0)).toBe(60_000);
    expect(parseRetryAfterMs('soon', 0)).toBe(60_000);
    expect(parseRetryAfterMs('Thu, 01 Jan 1970 00:00:05 GMT', 0)).toBe(5000);
  });
});
