/**
 * Hostile input to trading-algo's client protocols (issue 10): thousands of generated `/ws`
 * client messages and `/api/indicators` query strings. Every message is answered, errors are
 * schema-valid with a bounded message, the connection stays usable, and REST answers 200, 400
 * or 404 with a small JSON body. Counts are fixed, so the run is bounded.
 */
import { type AlgoServerMessage, algoServerMessageSchema, errorMessageSchema } from '@visualgo/contracts';
import { DEFAULT_INDICATOR_CONFIG } from '@visualgo/market';
import { type RunningHttpServer, startHttpServer } from '@visualgo/platform';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { IndicatorEngine } from './engine/indicator-engine.js';
import { feedStatusMessage } from './feed/feed-status.js';
import { indicatorRoutes } from './http/indicator-routes.js';
import { STREAM, STREAM_2, walk } from './testing/candles.js';
import { AlgoWsServer } from './ws/algo-ws-server.js';
import { parseClientRequest } from './ws/client-request.js';

const MAX_MESSAGE = 512;
const logger = pino({ level: 'silent' });

let http: RunningHttpServer;
let ws: AlgoWsServer;

beforeAll(async () => {
  const engine = new IndicatorEngine({ indicators: DEFAULT_INDICATOR_CONFIG, historyPoints: 100, logger });
  engine.declareStreams([
    { stream: STREAM, exchange: 'binance-sim', symbol: 'BTCUSDT', interval: '1m' },
    { stream: STREAM_2, exchange: 'binance-sim', symbol: 'ETHUSDT', interval: '1m' },
  ]);
  for (const c of walk(0, 30)) engine.onCandle(STREAM, c, true);
  engine.historyLoaded(STREAM);
  ws = new AlgoWsServer({
    engine,
    feedStatus: () => feedStatusMessage('connected', 0),
    logger,
    snapshotPoints: 10,
    maxClients: 100,
    maxBufferedBytes: 1024 * 1024,
    heartbeatIntervalMs: 0,
    inboundRateLimit: null,
  });
  http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    logger,
    routes: indicatorRoutes({ engine, defaultLimit: 10, maxLimit: 100 }),
    onUpgrade: (req, socket, head, url) => ws.handleUpgrade(req, socket, head, url),
  });
});

afterAll(async () => {
  await ws?.close();
  await http?.close();
});

const streamName = fc.oneof(
  fc.constantFrom(STREAM, STREAM_2, 'dogeusdt@kline_1m', 'btcusdt@trade', 'BTCUSDT@kline_1m', ''),
  fc.string({ maxLength: 70 }),
  fc.string({ unit: 'binary', maxLength: 70 }),
);
const message = fc.oneof(
  fc.record(
    {
      op: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe'), fc.string({ maxLength: 15 }), fc.anything()),
      streams: fc.oneof(fc.array(streamName, { maxLength: 300 }), fc.anything()),
      extra: fc.anything(),
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
);
const frame = fc.oneof(
  { weight: 4, arbitrary: message.map((m) => JSON.stringify(m) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1_000, max: 15_000 })
      .map((n) => `{"op":"subscribe","streams":["${'s'.repeat(n)}"]}`),
  },
);

describe('trading-algo client messages under generated input', () => {
  it('parseClientRequest never throws and bounds its error messages', () => {
    fc.assert(
      fc.property(frame, (text) => {
        const parsed = parseClientRequest(text);
        if (!parsed.ok) {
          expect(errorMessageSchema.safeParse(parsed.error).success).toBe(true);
          expect(parsed.error.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it('answers each of 2000 generated messages on /ws with one valid message and stays usable', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${http.port}/ws?streams=${STREAM}`);
    const inbox: AlgoServerMessage[] = [];
    let wake: (() => void) | null = null;
    socket.on('message', (data) => {
      inbox.push(algoServerMessageSchema.parse(JSON.parse(String(data))));
      wake?.();
    });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    /** The reply to a request: the next `subscriptions` or `error`; snapshots a subscribe sends are skipped. */
    const nextReply = async (): Promise<AlgoServerMessage> => {
      for (;;) {
        const m = inbox.shift();
        if (m === undefined) await new Promise<void>((resolve) => (wake = resolve));
        else if (m.type === 'subscriptions' || m.type === 'error') return m;
      }
    };
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        socket.send(text);
        const answer = await nextReply();
        if (answer.type === 'error') expect(answer.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
      }),
      { numRuns: 2_000 },
    );
    // Nothing unanswered or extra: one more request gets exactly its own reply.
    socket.send(JSON.stringify({ op: 'unsubscribe', streams: [STREAM_2] }));
    expect(await nextReply()).toMatchObject({ type: 'subscriptions' });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.terminate();
  }, 60_000);

  it('answers 2000 generated /api/indicators queries with 200, 400 or 404 and a small JSON body', async () => {
    const value = fc.oneof(
      streamName,
      fc.integer().map(String),
      fc.string({ maxLength: 30 }),
      fc.constant(''),
    );
    const query = fc.dictionary(fc.constantFrom('stream', 'limit', 'x', 'stream[]'), value, { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(query, fc.boolean(), async (params, repeat) => {
        const search = new URLSearchParams(params);
        if (repeat) search.append('stream', STREAM);
        const res = await fetch(`http://127.0.0.1:${http.port}/api/indicators?${search}`);
        expect([200, 400, 404]).toContain(res.status);
        const text = await res.text();
        const body = JSON.parse(text) as { error?: string };
        if (res.status !== 200) expect(body.error?.length).toBeLessThanOrEqual(MAX_MESSAGE);
      }),
      { numRuns: 2_000 },
    );
  }, 60_000);
});
