/**
 * Hostile input to data-ingest's WebSocket protocol (issue 10): thousands of generated client
 * messages (Binance's SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY
 * methods, malformed JSON, wrong types, huge values) and upgrade targets. Every message gets one
 * well-formed Binance reply with a bounded error text, the connection stays usable, and the
 * server keeps serving. Counts are fixed, so the run is bounded.
 */
import { binanceMethodErrorReply } from '@visualgo/contracts';
import { createMetrics } from '@visualgo/platform';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type IngestHttpEdge, startIngestHttpEdge } from '../http/ingest-http-edge.js';
import { FakeIngest } from '../testing/fake-ingest.js';
import { staticMetadata } from '../testing/static-metadata.js';
import { parseMethodRequest } from './binance-method.js';
import { connectClient, refusedUpgrade, terminateClients } from './ws-test-client.js';

const SERVED = ['btcusdt@kline_1m', 'ethusdt@kline_1m', 'btcusdt@trade'];
const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'];
/** Longest error text a reply may carry: the message bound of issue 10's echo rule, with room. */
const MAX_MSG = 400;

const resultReply = z.strictObject({
  result: z.union([z.null(), z.boolean(), z.array(z.string())]),
  id: z.union([z.number(), z.string(), z.null()]),
});
const reply = z.union([
  resultReply,
  binanceMethodErrorReply.extend({ id: z.union([z.number(), z.string(), z.null()]) }),
]);

/** Stream-like names: served ones, near misses, other kinds, junk and very long ones. */
const streamName = fc.oneof(
  fc.constantFrom(
    ...SERVED,
    'BTCUSDT@kline_1m',
    'btcusdt@kline_7m',
    'btcusdt@depth',
    'bnbbtc@kline_1m',
    '@',
    '',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('@kline_1m', '@trade', '@kline_1s'))
    .map(([s, k]) => s + k),
  fc.integer({ min: 100, max: 3_000 }).map((n) => 'x'.repeat(n)),
);
const id = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 50 }),
  fc.constant(null),
  fc.double(),
  fc.boolean(),
  fc.object(),
);
/** A method request, well-formed or not, as the JSON value a client would send. */
const request = fc.oneof(
  fc.record(
    {
      method: fc.oneof(fc.constantFrom(...METHODS), fc.string({ maxLength: 20 }), fc.integer(), fc.object()),
      params: fc.oneof(
        fc.array(streamName, { maxLength: 20 }),
        fc.tuple(fc.constantFrom('combined', 'compressed', ''), fc.oneof(fc.boolean(), fc.string())),
        fc.anything(),
      ),
      id,
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
);
/** A frame: a request's JSON, or text that is not JSON at all. */
const frame = fc.oneof(
  { weight: 4, arbitrary: request.map((r) => JSON.stringify(r) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: request.map((r) => (JSON.stringify(r) ?? 'null').slice(0, -1)) },
);

describe('parseMethodRequest under generated input', () => {
  it('never throws and always says what was wrong within the bound', () => {
    fc.assert(
      fc.property(frame, (text) => {
        const parsed = parseMethodRequest(text);
        if (!parsed.ok) {
          expect([0, 1, 2, 3]).toContain(parsed.error.code);
          expect(parsed.error.msg.length).toBeLessThanOrEqual(MAX_MSG);
        }
      }),
      { numRuns: 5_000 },
    );
  });
});

let edge: IngestHttpEdge;
let base: string;

beforeAll(async () => {
  const hub = new FakeIngest(SERVED);
  edge = await startIngestHttpEdge({
    bus: hub.bus,
    view: hub,
    metadata: staticMetadata(['BTCUSDT', 'ETHUSDT']),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('data-ingest', false),
    host: '127.0.0.1',
    port: 0,
    ws: { heartbeatIntervalMs: 0, inboundRateLimit: null, maxPayloadBytes: 64 * 1024 },
  });
  base = `ws://127.0.0.1:${edge.port}`;
});

afterAll(async () => {
  terminateClients();
  await edge?.close();
});

describe('the WebSocket server under generated input', () => {
  it('answers every one of 2000 generated messages with one bounded Binance reply and stays usable', async () => {
    const client = await connectClient(`${base}/ws/${SERVED[0]}`);
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        const answer = reply.parse(await client.request(text));
        if ('error' in answer) expect(answer.error.msg.length).toBeLessThanOrEqual(MAX_MSG);
      }),
      { numRuns: 2_000 },
    );
    // Still a working Binance connection: its subscriptions are whatever the valid requests left.
    const list = resultReply.parse(await client.request({ method: 'LIST_SUBSCRIPTIONS', id: 'end' }));
    expect(list.id).toBe('end');
    for (const s of list.result as string[]) expect(SERVED).toContain(s);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  }, 60_000);

  it('answers 300 generated upgrade targets with 101, 400 or 404 and a bounded body', async () => {
    const target = fc.oneof(
      fc.array(streamName, { maxLength: 5 }).map((names) => `/ws/${names.map(encodeURIComponent).join('/')}`),
      fc
        .array(streamName, { maxLength: 5 })
        .map((names) => `/stream?streams=${names.map(encodeURIComponent).join('/')}`),
      fc.string({ maxLength: 60 }).map((s) => `/${encodeURIComponent(s)}`),
      fc.constantFrom('/ws', '/ws/', '/stream', '/stream?streams=', '/ws/%', '/stream?streams=%E0%A4%A'),
    );
    await fc.assert(
      fc.asyncProperty(target, async (path) => {
        let outcome: { status: number; body: string };
        try {
          const client = await connectClient(`${base}${path}`);
          client.ws.terminate();
          outcome = { status: 101, body: '' };
        } catch {
          outcome = await refusedUpgrade(`${base}${path}`);
        }
        expect([101, 400, 404]).toContain(outcome.status);
        expect(outcome.body.length).toBeLessThanOrEqual(MAX_MSG);
      }),
      { numRuns: 300 },
    );
    expect((await fetch(`${base.replace('ws', 'http')}/healthz`)).status).toBe(200);
  }, 60_000);
});
