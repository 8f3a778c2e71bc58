import { Writable } from 'node:stream';
import type { CandleEvent, TradeEvent } from '@visualgo/bus';
import { binanceKlineEvent } from '@visualgo/contracts';
import { BearerAuth, createMetrics } from '@visualgo/platform';
import { testCandle, testTrade } from '@visualgo/testing';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type IngestHttpEdge, startIngestHttpEdge } from '../http/ingest-http-edge.js';
import { FakeIngest } from '../testing/fake-ingest.js';
import { staticMetadata } from '../testing/static-metadata.js';
import { binanceCombinedText, binanceEventText } from './binance-frames.js';
import type { MarketWsOptions } from './market-ws-endpoint.js';
import { connectClient, refusedUpgrade, type TestClient, terminateClients, until } from './ws-test-client.js';

const BTC = 'btcusdt@kline_1m';
const ETH = 'ethusdt@kline_1m';
const TRADE = 'btcusdt@trade';
const T0 = 1_700_000_040_000;
const WORKER = {
  entry: new URL('./market-ws-worker-main.ts', import.meta.url).pathname,
  execArgv: ['--import', 'tsx'],
};

let edge: IngestHttpEdge | undefined;
afterEach(async () => {
  terminateClients();
  await edge?.close();
  edge = undefined;
});

interface Started {
  readonly hub: FakeIngest;
  readonly base: string;
  readonly http: string;
  /** The front's log records so far (JSON). */
  readonly logs: Record<string, unknown>[];
}

async function start(ws: MarketWsOptions = {}, auth?: BearerAuth): Promise<Started> {
  const hub = new FakeIngest([BTC, ETH, TRADE]);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  edge = await startIngestHttpEdge({
    bus: hub.bus,
    view: hub,
    metadata: staticMetadata(['BTCUSDT', 'ETHUSDT']),
    logger: pino({ level: 'info' }, sink),
    metrics: createMetrics('data-ingest', false),
    host: '127.0.0.1',
    port: 0,
    ws: { heartbeatIntervalMs: 0, ...ws },
    wsWorkers: { count: 2, entry: WORKER, logLevel: 'warn' },
    ...(auth ? { auth } : {}),
  });
  return { hub, base: `ws://127.0.0.1:${edge.port}`, http: `http://127.0.0.1:${edge.port}`, logs };
}

async function metric(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Waits until the front's `/metrics` shows `name` at `value`. */
async function untilMetric(
  http: string,
  name: string,
  value: number,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const text = await (await fetch(`${http}/metrics`, { headers })).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    if (line && Number(line.slice(line.lastIndexOf(' ') + 1)) === value) return;
    if (Date.now() > deadline) throw new Error(`${name} not ${value} in time: ${line}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function workerPids(logs: readonly Record<string, unknown>[]): number[] {
  return logs.filter((l) => l.msg === 'websocket worker ready').map((l) => l.pid as number);
}

type Event = CandleEvent | TradeEvent;

function publishAll(hub: FakeIngest, i: number): Event[] {
  return [
    hub.publishCandle(BTC, testCandle({ openTimeMs: T0 + i * 60_000, closed: false })),
    hub.publishCandle(ETH, testCandle({ openTimeMs: T0 + i * 60_000, symbol: 'ETHUSDT', close: 1983.55 })),
    hub.publishTrade(TRADE, testTrade({ tradeId: i })),
  ];
}

describe('WebSocket endpoints served by worker processes (WS_WORKERS)', () => {
  // Starting workers from source takes seconds, so these three share one edge, in this order.
  describe('on one edge', () => {
    let shared: Started;
    let sharedEdge: IngestHttpEdge | undefined;
    beforeAll(async () => {
      shared = await start({ maxBufferedBytes: 16 * 1024, slowConsumerCloseGraceMs: 5_000 });
      sharedEdge = edge;
      edge = undefined;
    });
    afterAll(async () => {
      await sharedEdge?.close();
    });

    it('spreads clients over the workers and sends each the same bytes the in-process edge does', async () => {
      const { hub, base, http } = shared;
      const clients: TestClient[] = [];
      for (let i = 0; i < 3; i++) {
        clients.push(await connectClient(`${base}/ws`));
        clients.push(await connectClient(`${base}/ws/${ETH}`));
        clients.push(await connectClient(`${base}/stream?streams=${BTC}/${TRADE}`));
      }
      expect(await metric(http, 'ingest_ws_clients')).toBe(9);
      expect(await metric(http, 'ingest_ws_workers')).toBe(2);
      const events: Event[] = [];
      for (let i = 0; i < 50; i++) events.push(...publishAll(hub, i));
      const raw = events.map((e) => binanceEventText.of(e));
      const eth = events.filter((e) => e.stream === ETH).map((e) => binanceEventText.of(e));
      const combined = events.filter((e) => e.stream !== ETH).map((e) => binanceCombinedText.of(e));
      const expected = [raw, eth, combined];
      await until(() => clients.every((c, i) => c.messages.length >= (expected[i % 3] as string[]).length));
      clients.forEach((c, i) => {
        expect(c.messages).toEqual(expected[i % 3]);
      });
      expect(await metric(http, 'ingest_ws_messages_out_total')).toBe(3 * (150 + 50 + 100));
      // Every worker serves some of them: the front sums their per-stream counters.
      const text = await (await fetch(`${http}/metrics`)).text();
      expect(text).toMatch(/ingest_ws_stream_messages_out_total\{[^}]*stream="ethusdt@kline_1m"[^}]*\} 300/);
    });

    it('answers the Binance methods on a worker connection', async () => {
      const { hub, base } = shared;
      const client = await connectClient(`${base}/ws`);
      expect(await client.request({ method: 'SUBSCRIBE', params: [ETH], id: 1 })).toEqual({
        result: null,
        id: 1,
      });
      expect(await client.request({ method: 'LIST_SUBSCRIPTIONS', id: 2 })).toEqual({ result: [ETH], id: 2 });
      expect(await client.request({ method: 'SUBSCRIBE', params: ['nosuch@kline_1m'], id: 3 })).toMatchObject(
        {
          error: { code: 2 },
          id: 3,
        },
      );
      expect(await client.request({ method: 'SET_PROPERTY', params: ['combined', true], id: 4 })).toEqual({
        result: null,
        id: 4,
      });
      const before = client.messages.length;
      const [, eth] = publishAll(hub, 1_000);
      await until(() => client.messages.length > before);
      expect(client.messages.slice(before)).toEqual([binanceCombinedText.of(eth as Event)]);
    });

    it('cuts a consumer that stops reading with 1008 in its worker while the others receive everything', async () => {
      const { hub, base, http } = shared;
      const fast = await connectClient(`${base}/ws/${BTC}`);
      const slow = await connectClient(`${base}/ws/${BTC}`);
      (await slow.tcp).pause();
      let published = 0;
      const publish = () =>
        hub.publishCandle(
          BTC,
          testCandle({ openTimeMs: T0 + (2_000 + published++) * 60_000, closed: false }),
        );
      while (published < 200_000 && !(await metric(http, 'ingest_ws_slow_consumers_dropped_total'))) {
        for (let i = 0; i < 256; i++) publish();
        await until(() => fast.messages.length === published);
      }
      expect(await metric(http, 'ingest_ws_slow_consumers_dropped_total')).toBe(1);
      expect(fast.messages.map((m) => binanceKlineEvent.parse(JSON.parse(m)).k.t)).toEqual(
        Array.from({ length: published }, (_, i) => T0 + (2_000 + i) * 60_000),
      );
      (await slow.tcp).resume();
      expect(await slow.closed).toEqual({ code: 1008, reason: 'slow consumer' });
    });
  });

  it('refuses upgrades at the front as the in-process edge does, with caps counted over all workers', async () => {
    const auth = new BearerAuth('s3cret');
    const { base, http } = await start({ maxClientsPerAddress: 3 }, auth);
    const headers = { authorization: 'Bearer s3cret' };
    expect((await refusedUpgrade(`${base}/ws`)).status).toBe(401);
    expect((await refusedUpgrade(`${base}/ws/nosuch@kline_1m`, headers)).status).toBe(400);
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await connectClient(`${base}/ws`, { headers }));
    const refused = await refusedUpgrade(`${base}/ws`, headers);
    expect(refused.status).toBe(429);
    // A client that leaves gives its slot back, whichever worker served it.
    held[0]?.ws.close();
    await held[0]?.closed;
    await untilMetric(http, 'ingest_ws_clients', 2, headers);
    await connectClient(`${base}/ws`, { headers });
    const text = await (await fetch(`${http}/metrics`, { headers })).text();
    expect(text).toMatch(/ingest_ws_upgrades_rejected_total\{[^}]*reason="per_address"[^}]*\} 1/);
  });

  it('restarts a worker that dies (its clients are disconnected, the others keep receiving, new clients are served) and stops every worker on shutdown with 1001', async () => {
    const { hub, base, http, logs } = await start();
    const clients: TestClient[] = [];
    for (let i = 0; i < 4; i++) clients.push(await connectClient(`${base}/ws/${BTC}`));
    const [first] = publishAll(hub, 0);
    await until(() => clients.every((c) => c.messages.length === 1));
    const pids = workerPids(logs);
    expect(pids).toHaveLength(2);
    const closed = clients.map(() => false);
    clients.forEach((c, i) => {
      void c.closed.then(() => {
        closed[i] = true;
      });
    });
    process.kill(pids[0] as number, 'SIGKILL');
    // The killed worker's clients (two: they are placed on the one with fewest) lose their connection.
    await until(() => closed.filter(Boolean).length === 2);
    const gone = [...closed];
    await until(() => workerPids(logs).length === 3, 10_000);
    expect(await metric(http, 'ingest_ws_worker_restarts_total')).toBe(1);
    expect(await metric(http, 'ingest_ws_clients')).toBe(2);
    const fresh: TestClient[] = [];
    for (let i = 0; i < 2; i++) fresh.push(await connectClient(`${base}/ws/${BTC}`));
    const [second] = publishAll(hub, 1);
    const alive = clients.filter((_, i) => !gone[i]);
    await until(() =>
      [...alive, ...fresh].every(
        (c) => c.messages.length >= 1 && c.messages.at(-1) === binanceEventText.of(second as Event),
      ),
    );
    for (const c of alive)
      expect(c.messages).toEqual([binanceEventText.of(first as Event), binanceEventText.of(second as Event)]);
    for (const c of fresh) expect(c.messages).toEqual([binanceEventText.of(second as Event)]);
    // Shutdown: 1001 to every client of every worker, and the workers exit.
    await edge?.close();
    edge = undefined;
    for (const c of [...alive, ...fresh]) expect((await c.closed).code).toBe(1001);
    for (const pid of workerPids(logs)) expect(isRunning(pid)).toBe(false);
  }, 30_000);
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
