import type { AlgoServerMessage } from '@visualgo/contracts';
import type { Candle } from '@visualgo/market';
import { Shutdown } from '@visualgo/platform';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTradingAlgo, type TradingAlgo } from '../app.js';
import { loadAlgoConfig } from '../config.js';
import { STREAM, STREAM_2, walk, walkCandle } from '../testing/candles.js';
import { IngestHarness } from '../testing/ingest-harness.js';
import { TestWsClient, waitFor } from '../testing/ws-client.js';

const silent = pino({ level: 'silent' });
const WORKER = {
  entry: new URL('./algo-ws-worker-main.ts', import.meta.url).pathname,
  execArgv: ['--import', 'tsx'],
};

interface Running {
  readonly algo: TradingAlgo;
  readonly wsUrl: string;
  readonly http: string;
  readonly shutdown: Shutdown;
}

/**
 * One data-ingest and two trading-algo services fed by it: one serving /ws in its own process,
 * one from two worker processes. Whatever a client of one gets, the same client of the other
 * must get.
 */
let ingest: IngestHarness;
let single: Running;
let workers: Running;
const clients: TestWsClient[] = [];

async function startAlgo(env: Record<string, string>, workerProcesses: boolean): Promise<Running> {
  const config = loadAlgoConfig({
    ALGO_HOST: '127.0.0.1',
    ALGO_HTTP_PORT: '0',
    INGEST_GRPC_URL: ingest.target,
    SNAPSHOT_POINTS: '30',
    HISTORY_POINTS: '100',
    WS_HEARTBEAT_MS: '0',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const shutdown = new Shutdown(silent, 5_000);
  const algo = await startTradingAlgo(config, {
    logger: silent,
    registry: new Registry(),
    shutdown,
    feedBackoff: { initialMs: 20, maxMs: 100, jitter: 0 },
    ...(workerProcesses ? { wsWorkerEntry: WORKER } : {}),
  });
  await waitFor('algo ready', () => algo.feed.isReady);
  return {
    algo,
    shutdown,
    wsUrl: `ws://127.0.0.1:${algo.port}/ws`,
    http: `http://127.0.0.1:${algo.port}`,
  };
}

beforeAll(async () => {
  ingest = await IngestHarness.start({
    streams: { [STREAM]: walk(0, 50), [STREAM_2]: walk(0, 40, 'ETHUSDT') },
  });
  single = await startAlgo({}, false);
  workers = await startAlgo({ WS_WORKERS: '2' }, true);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await workers?.shutdown.run('test over');
  await single?.shutdown.run('test over');
  await ingest?.close();
});

async function connect(url: string): Promise<TestWsClient> {
  const client = await TestWsClient.connect(url);
  clients.push(client);
  return client;
}

/** What a client got, without the feed status (each service has its own feed connection). */
function market(client: TestWsClient): AlgoServerMessage[] {
  return client.messages.filter((m) => m.type !== 'status');
}

function publishLive(stream: string, candles: readonly Candle[]): void {
  for (const c of candles) {
    ingest.publish(stream, { ...c, closed: false });
    ingest.publish(stream, c);
  }
}

function refusedStatus(url: string): Promise<number> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('error', () => undefined);
  });
}

async function metric(http: string, name: string): Promise<string> {
  const text = await (await fetch(`${http}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('trading-algo /ws served by worker processes (WS_WORKERS)', () => {
  it('gives each client exactly what the in-process edge gives it: snapshots, live messages, subscriptions', async () => {
    const pairs: [TestWsClient, TestWsClient][] = [];
    for (const query of ['', `?streams=${STREAM}`, `?streams=${STREAM_2}`, '']) {
      pairs.push([await connect(single.wsUrl + query), await connect(workers.wsUrl + query)]);
    }
    await waitFor('snapshots', () =>
      pairs.every(([a, b], i) => {
        const want = i === 0 || i === 3 ? 2 : 1;
        return a.of('snapshot').length === want && b.of('snapshot').length === want;
      }),
    );
    const total = (c: TestWsClient, stream: string) =>
      c.of('indicator').filter((m) => m.stream === stream).length;
    publishLive(STREAM, walk(50, 10));
    publishLive(STREAM_2, walk(40, 10, 'ETHUSDT'));
    // A client that joins while points flow: a snapshot, then exactly the live messages after it.
    const late: [TestWsClient, TestWsClient] = [await connect(single.wsUrl), await connect(workers.wsUrl)];
    publishLive(STREAM, walk(60, 10));
    // Subscribing at the same point of the flow on both services: once both have served everything.
    await waitFor('both caught up', () =>
      [pairs[0], pairs[3]].every((p) =>
        p?.every((c) => total(c, STREAM) === 40 && total(c, STREAM_2) === 20),
      ),
    );
    pairs[1]?.[0].send({ op: 'subscribe', streams: [STREAM_2] });
    pairs[1]?.[1].send({ op: 'subscribe', streams: [STREAM_2] });
    await waitFor('second snapshot', () => pairs[1]?.every((c) => c.of('snapshot').length === 2) ?? false);
    publishLive(STREAM_2, walk(50, 5, 'ETHUSDT'));
    await waitFor(
      'every update',
      () =>
        pairs.every(([a, b]) => market(a).length === market(b).length && market(a).length > 0) &&
        [pairs[0], pairs[3]].every((p) =>
          p?.every((c) => total(c, STREAM) === 40 && total(c, STREAM_2) === 30),
        ),
      10_000,
    );
    for (const [a, b] of pairs) {
      expect(market(b)).toEqual(market(a));
      expect(b.invalid).toEqual([]);
    }
    // The late clients joined at slightly different moments on each service; each must hold the
    // same final points as the engine once it has everything: its snapshot and the live final
    // points after it, with no gap and no repeat.
    const knownOf = (client: TestWsClient, stream: string): number[] => {
      const snap = client.of('snapshot').find((s) => s.stream === stream);
      if (!snap) return [];
      const after = client.messages.slice(client.messages.indexOf(snap) + 1);
      const finals = after.filter(
        (m): m is Extract<AlgoServerMessage, { type: 'indicator' }> =>
          m.type === 'indicator' && m.stream === stream && m.final,
      );
      return [...snap.points, ...finals].map((p) => p.openTimeMs);
    };
    const engineOf = (stream: string): number[] =>
      single.algo.engine.snapshot(stream, 100)?.points.map((p) => p.openTimeMs) ?? [];
    await waitFor('late clients caught up', () =>
      late.every((c) => [STREAM, STREAM_2].every((s) => knownOf(c, s).at(-1) === engineOf(s).at(-1))),
    );
    for (const client of late) {
      for (const stream of [STREAM, STREAM_2]) {
        const known = knownOf(client, stream);
        const engine = engineOf(stream);
        expect(known.length).toBeGreaterThan(0);
        expect(known).toEqual(engine.slice(engine.length - known.length));
      }
    }
  }, 30_000);

  it('refuses bad stream lists at the front and answers bad messages in the worker, counted in /metrics', async () => {
    expect(await refusedStatus(`${workers.wsUrl}?streams=`)).toBe(400);
    expect(await refusedStatus(`${workers.wsUrl}?streams=nosuch@kline_1m`)).toBe(400);
    const client = await connect(workers.wsUrl);
    client.send('not json');
    await waitFor('error', () => client.of('error').length === 1);
    expect(client.of('error')[0]).toMatchObject({ type: 'error' });
    expect(await metric(workers.http, 'algo_ws_client_errors_total')).toMatch(/ 1$/m);
    expect(await metric(workers.http, 'algo_ws_workers ')).toBe('algo_ws_workers 2');
    expect(await metric(workers.http, 'algo_ws_clients')).toMatch(/algo_ws_clients\S* [1-9]/);
    const health = (await (await fetch(`${workers.http}/healthz`)).json()) as { wsWorkers: number };
    expect(health.wsWorkers).toBe(2);
  });

  it('a client subscribing while points flow gets the snapshot first, then the live points after it, without a gap', async () => {
    const client = await connect(`${workers.wsUrl}?streams=${STREAM_2}`);
    await waitFor('snapshot', () => client.of('snapshot').length === 1);
    client.send({ op: 'subscribe', streams: [STREAM] });
    publishLive(STREAM, walk(70, 10));
    await waitFor('btc snapshot', () => client.of('snapshot').some((m) => m.stream === STREAM));
    await waitFor(
      'engine has every point',
      () => single.algo.engine.snapshot(STREAM, 1)?.points[0]?.openTimeMs === walkCandle(79).openTimeMs,
    );
    await waitFor(
      'every live btc point',
      () =>
        client
          .of('indicator')
          .some((m) => m.stream === STREAM && m.final && m.openTimeMs === walkCandle(79).openTimeMs) ||
        client
          .of('snapshot')
          .some((m) => m.stream === STREAM && m.points.at(-1)?.openTimeMs === walkCandle(79).openTimeMs),
    );
    const snapAt = client.messages.findIndex((m) => m.type === 'snapshot' && m.stream === STREAM);
    const firstLive = client.messages.findIndex((m) => m.type === 'indicator' && m.stream === STREAM);
    if (firstLive >= 0) expect(snapAt).toBeLessThan(firstLive);
    const snap = client.messages[snapAt] as Extract<AlgoServerMessage, { type: 'snapshot' }>;
    const finals = client.messages
      .slice(snapAt + 1)
      .filter(
        (m): m is Extract<AlgoServerMessage, { type: 'indicator' }> =>
          m.type === 'indicator' && m.stream === STREAM && m.final,
      );
    const known = [...snap.points, ...finals].map((p) => p.openTimeMs);
    const engine = single.algo.engine.snapshot(STREAM, 100)?.points.map((p) => p.openTimeMs) ?? [];
    expect(known).toEqual(engine.slice(engine.length - known.length));
  });
});
