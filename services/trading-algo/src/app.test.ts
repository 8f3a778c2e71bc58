import { indicatorHistoryResponseSchema } from '@visualgo/contracts';
import type { Candle } from '@visualgo/market';
import { Shutdown } from '@visualgo/platform';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startTradingAlgo, type TradingAlgo } from './app.js';
import { loadAlgoConfig } from './config.js';
import { rubberbandScenario, STREAM, STREAM_2, walk, walkCandle } from './testing/candles.js';
import { IngestHarness } from './testing/ingest-harness.js';
import { TestWsClient, waitFor } from './testing/ws-client.js';

const logger = pino({ level: 'silent' });

interface Running {
  readonly ingest: IngestHarness;
  readonly algo: TradingAlgo;
  readonly registry: Registry;
  readonly shutdown: Shutdown;
  readonly base: string;
  readonly wsUrl: string;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(
  streams: Readonly<Record<string, readonly Candle[]>> = { [STREAM]: walk(0, 50) },
  env: Record<string, string> = {},
  waitReady = true,
): Promise<Running> {
  const ingest = await IngestHarness.start({ streams });
  cleanups.push(() => ingest.close());
  const config = loadAlgoConfig({
    ALGO_HOST: '127.0.0.1',
    ALGO_HTTP_PORT: '0',
    INGEST_GRPC_URL: ingest.target,
    SNAPSHOT_POINTS: '30',
    HISTORY_POINTS: '100',
    ...env,
  });
  const registry = new Registry();
  const shutdown = new Shutdown(logger, 3_000);
  const algo = await startTradingAlgo(config, {
    logger,
    registry,
    shutdown,
    feedBackoff: { initialMs: 20, maxMs: 100, jitter: 0 },
  });
  cleanups.push(() => shutdown.run('test over'));
  if (waitReady) await waitFor('algo ready', () => algo.feed.isReady);
  const base = `http://127.0.0.1:${algo.port}`;
  return { ingest, algo, registry, shutdown, base, wsUrl: `ws://127.0.0.1:${algo.port}/ws` };
}

async function connect(url: string): Promise<TestWsClient> {
  const client = await TestWsClient.connect(url);
  cleanups.push(async () => client.close());
  return client;
}

function publishLive(ingest: IngestHarness, stream: string, candles: readonly Candle[]): void {
  for (const c of candles) {
    ingest.publish(stream, { ...c, closed: false });
    ingest.publish(stream, c);
  }
}

describe('trading-algo WebSocket', () => {
  it('sends the feed status and a snapshot of the last SNAPSHOT_POINTS final points on connect', async () => {
    const { wsUrl } = await start();
    const client = await connect(wsUrl);
    await waitFor('snapshot', () => client.of('snapshot').length === 1);
    expect(client.messages[0]).toMatchObject({ type: 'status', scope: 'feed', state: 'connected' });
    const snapshot = client.of('snapshot')[0];
    expect(snapshot).toMatchObject({
      stream: STREAM,
      exchange: 'binance-sim',
      symbol: 'BTCUSDT',
      interval: '1m',
    });
    expect(snapshot?.points.map((p) => p.openTimeMs)).toEqual(walk(20, 30).map((c) => c.openTimeMs));
    expect(snapshot?.points.every((p) => p.final)).toBe(true);
    expect(client.invalid).toEqual([]);
  });

  it('delivers every update to each of two clients, in the same order', async () => {
    const { ingest, wsUrl } = await start();
    const a = await connect(wsUrl);
    const b = await connect(wsUrl);
    await waitFor('snapshots', () => a.of('snapshot').length === 1 && b.of('snapshot').length === 1);
    publishLive(ingest, STREAM, walk(50, 20));
    await waitFor(
      '40 updates each',
      () => a.of('indicator').length === 40 && b.of('indicator').length === 40,
    );
    expect(a.of('indicator')).toEqual(b.of('indicator'));
    const updates = a.of('indicator');
    expect(updates.map((m) => `${m.openTimeMs}:${m.final}`)).toEqual(
      walk(50, 20).flatMap((c) => [`${c.openTimeMs}:false`, `${c.openTimeMs}:true`]),
    );
    // Exactly the message fields of the documented schema (validated strictly by the client).
    expect(Object.keys(updates[1] ?? {}).sort()).toEqual(
      [
        'type',
        'stream',
        'exchange',
        'symbol',
        'interval',
        'openTimeMs',
        'closeTimeMs',
        'final',
        'open',
        'high',
        'low',
        'close',
        'volume',
        'ema',
        'vwap',
        'vwapBands',
        'atr',
        'stretch',
        'signal',
        'vwapFromMs',
        'vwapPartial',
        'converged',
      ].sort(),
    );
    expect(Object.keys(updates[1]?.vwapBands ?? {})).toEqual(['1', '2']);
    expect([...a.invalid, ...b.invalid]).toEqual([]);
  });

  it('limits a client to ?streams= and follows subscribe and unsubscribe requests', async () => {
    const { ingest, wsUrl } = await start({ [STREAM]: walk(0, 50), [STREAM_2]: walk(0, 40, 'ETHUSDT') });
    const client = await connect(`${wsUrl}?streams=${STREAM}`);
    await waitFor('snapshot', () => client.of('snapshot').length === 1);
    ingest.publish(STREAM_2, walkCandle(40, true, 'ETHUSDT'));
    ingest.publish(STREAM, walkCandle(50));
    await waitFor('btc update', () => client.of('indicator').length === 1);
    expect(client.of('indicator')[0]?.stream).toBe(STREAM);

    client.send({ op: 'subscribe', streams: [STREAM_2] });
    await waitFor('eth snapshot', () => client.of('snapshot').length === 2);
    expect(client.of('subscriptions').at(-1)?.streams).toEqual([STREAM, STREAM_2]);
    expect(client.of('snapshot')[1]).toMatchObject({ stream: STREAM_2 });
    expect(client.of('snapshot')[1]?.points).toHaveLength(30);

    client.send({ op: 'unsubscribe', streams: [STREAM] });
    await waitFor('ack', () => client.of('subscriptions').length === 2);
    expect(client.of('subscriptions')[1]?.streams).toEqual([STREAM_2]);
    ingest.publish(STREAM, walkCandle(51));
    ingest.publish(STREAM_2, walkCandle(41, true, 'ETHUSDT'));
    await waitFor('eth update', () => client.of('indicator').some((m) => m.stream === STREAM_2));
    expect(client.of('indicator').map((m) => m.stream)).toEqual([STREAM, STREAM_2]);
    expect(client.invalid).toEqual([]);
  });

  it('answers bad client messages with an error and keeps the connection usable', async () => {
    const { ingest, wsUrl } = await start({ [STREAM]: walk(0, 50), [STREAM_2]: walk(0, 40, 'ETHUSDT') });
    const client = await connect(`${wsUrl}?streams=${STREAM}`);
    await waitFor('snapshot', () => client.of('snapshot').length === 1);
    client.send('not json');
    client.send({ op: 'subscribe' });
    client.send({ op: 'watch', streams: [STREAM] });
    client.send({ op: 'subscribe', streams: ['btcusdt@trade'] });
    client.send({ op: 'subscribe', streams: ['dogeusdt@kline_1m'] });
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await waitFor('six errors', () => client.of('error').length === 6);
    expect(client.of('error').map((e) => e.code)).toEqual([
      'bad-json',
      'bad-request',
      'bad-request',
      'bad-request',
      'unknown-stream',
      'binary-not-supported',
    ]);
    expect(client.of('error')[4]?.message).toContain('dogeusdt@kline_1m');
    expect(client.closeCode).toBeNull();
    client.send({ op: 'subscribe', streams: [STREAM_2] });
    await waitFor('eth snapshot', () => client.of('snapshot').length === 2);
    ingest.publish(STREAM_2, walkCandle(40, true, 'ETHUSDT'));
    await waitFor('eth update', () => client.of('indicator').length === 1);
    expect(client.invalid).toEqual([]);
  });

  it('bounds the streams one client may follow, even before the served streams are known', async () => {
    // data-ingest unreachable: the feed has not listed any stream, so any well-formed name passes.
    const { wsUrl } = await start({ [STREAM]: walk(0, 10) }, { INGEST_GRPC_URL: '127.0.0.1:1' }, false);
    const client = await connect(wsUrl);
    const names = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => `s${from + i}usdt@kline_1m`);
    // A request names at most 256 streams: four full ones, then one that crosses the bound.
    for (let i = 0; i < 4; i++) client.send({ op: 'subscribe', streams: names(i * 250, 250) });
    client.send({ op: 'subscribe', streams: names(1000, 100) });
    await waitFor('one error', () => client.of('error').length === 1);
    expect(client.of('error')[0]?.message).toBe('at most 1024 streams per connection');
    expect(client.closeCode).toBeNull();
    // Short names keep the URL under Node's header size limit, so the 400 is the stream bound.
    const short = Array.from({ length: 1025 }, (_, i) => `a${i}@kline_1m`).join(',');
    await expect(TestWsClient.connect(`${wsUrl}?streams=${short}`)).rejects.toThrow('HTTP 400');
    await expect(
      TestWsClient.connect(`${wsUrl}?streams=${short.slice(0, short.lastIndexOf(','))}`),
    ).resolves.toBeDefined();
  });

  it('refuses upgrades for bad stream lists and other paths', async () => {
    const { wsUrl, base } = await start();
    await expect(TestWsClient.connect(`${wsUrl}?streams=nope`)).rejects.toThrow('HTTP 400');
    await expect(TestWsClient.connect(`${wsUrl}?streams=dogeusdt@kline_1m`)).rejects.toThrow('HTTP 400');
    await expect(TestWsClient.connect(`${base.replace('http', 'ws')}/other`)).rejects.toThrow('HTTP 404');
  });

  it('sends signal messages when the rubberband fires, both sides', async () => {
    const scenario = rubberbandScenario();
    const { ingest, wsUrl } = await start({ [STREAM]: scenario.slice(0, 20) });
    const client = await connect(wsUrl);
    await waitFor('snapshot', () => client.of('snapshot').length === 1);
    publishLive(ingest, STREAM, scenario.slice(20));
    await waitFor('all updates', () => client.of('indicator').length === 2 * (scenario.length - 20));
    const signals = client.of('signal');
    expect(signals.map((s) => [s.side, s.openTimeMs])).toEqual([
      ['overbought', scenario[30]?.openTimeMs],
      ['oversold', scenario[46]?.openTimeMs],
    ]);
    // The signal follows its candle's final indicator message, which carries the same decision.
    const final30 = client.messages.findIndex(
      (m) => m.type === 'indicator' && m.final && m.openTimeMs === scenario[30]?.openTimeMs,
    );
    expect(client.messages[final30]).toMatchObject({ signal: 'overbought' });
    expect(client.messages[final30 + 1]).toMatchObject({ type: 'signal', side: 'overbought', close: 104 });
    expect(client.invalid).toEqual([]);
  });

  it('tells clients when the feed from data-ingest drops and comes back', async () => {
    const { ingest, algo, wsUrl } = await start();
    const client = await connect(wsUrl);
    await waitFor('snapshot', () => client.of('snapshot').length === 1);
    await ingest.stopEdge();
    await waitFor('disconnected', () =>
      client.of('status').some((s) => s.scope === 'feed' && s.state === 'disconnected'),
    );
    await ingest.startEdge();
    await waitFor('ready again', () => algo.feed.isReady);
    await waitFor('connected', () => client.of('status').filter((s) => s.state === 'connected').length >= 2);
    expect(client.closeCode).toBeNull();
  });

  it('cuts off a client that stops reading with 1008 while another gets every update', async () => {
    const { ingest, wsUrl, registry } = await start(
      { [STREAM]: walk(0, 50) },
      { WS_MAX_BUFFERED_BYTES: '65536' },
    );
    const slow = await connect(wsUrl);
    const fast = await connect(wsUrl);
    await waitFor('snapshots', () => slow.of('snapshot').length === 1 && fast.of('snapshot').length === 1);
    slow.socket.pause();
    const n = 4_000;
    for (let i = 50; i < 50 + n; i += 100) {
      publishLive(ingest, STREAM, walk(i, 100));
      await new Promise((r) => setTimeout(r, 25));
    }
    // Counted on final points: if this machine is too slow for the burst, data-ingest may cut the
    // feed off as a slow gRPC consumer; the feed then resumes without losing a closed candle.
    const finals = () => fast.of('indicator').filter((m) => m.final);
    await waitFor('fast client complete', () => finals().length === n, 15_000);
    expect(finals().map((m) => m.openTimeMs)).toEqual(walk(50, n).map((c) => c.openTimeMs));
    slow.socket.resume();
    await waitFor('slow client closed', () => slow.closeCode !== null, 5_000);
    expect(slow.closeCode).toBe(1008);
    expect(slow.of('indicator').length).toBeLessThan(2 * n);
    expect(fast.closeCode).toBeNull();
    expect(await registry.getSingleMetricAsString('algo_ws_slow_consumers_dropped_total')).toContain(
      'algo_ws_slow_consumers_dropped_total 1',
    );
  }, 30_000);

  it('closes clients with 1001 on shutdown', async () => {
    const { wsUrl, shutdown } = await start();
    const client = await connect(wsUrl);
    await waitFor('snapshot', () => client.of('snapshot').length === 1);
    await shutdown.run('test');
    await waitFor('closed', () => client.closeCode !== null);
    expect(client.closeCode).toBe(1001);
  });
});

describe('trading-algo HTTP', () => {
  it('serves the final point history with /api/indicators', async () => {
    const { base } = await start();
    const res = await fetch(`${base}/api/indicators?stream=${STREAM}&limit=5`);
    expect(res.status).toBe(200);
    const body = indicatorHistoryResponseSchema.parse(await res.json());
    expect(body.points.map((p) => p.openTimeMs)).toEqual(walk(45, 5).map((c) => c.openTimeMs));
    const all = indicatorHistoryResponseSchema.parse(
      await (await fetch(`${base}/api/indicators?stream=${STREAM}`)).json(),
    );
    expect(all.points).toHaveLength(30);
    // Paging back: the five before the first point received.
    const end = (body.points[0]?.openTimeMs ?? 0) - 1;
    const older = indicatorHistoryResponseSchema.parse(
      await (await fetch(`${base}/api/indicators?stream=${STREAM}&limit=5&endTimeMs=${end}`)).json(),
    );
    expect(older.points.map((p) => p.openTimeMs)).toEqual(walk(40, 5).map((c) => c.openTimeMs));
  });

  it('answers bad /api/indicators parameters with 400 and an unknown stream with 404', async () => {
    const { base } = await start();
    const cases: [string, number, string][] = [
      ['', 400, '"stream" is required'],
      ['?stream=btcusdt', 400, 'not a kline stream name'],
      [`?stream=${STREAM}&limit=0`, 400, '"limit" must be an integer from 1 to 100'],
      [`?stream=${STREAM}&limit=101`, 400, '"limit"'],
      [`?stream=${STREAM}&limit=abc`, 400, '"limit"'],
      [`?stream=${STREAM}&endTimeMs=yesterday`, 400, '"endTimeMs" must be a time in ms'],
      [`?stream=${STREAM}&endTimeMs=${'9'.repeat(400)}`, 400, '"endTimeMs"'],
      ['?stream=dogeusdt@kline_1m', 404, 'not served'],
    ];
    for (const [query, status, message] of cases) {
      const res = await fetch(`${base}/api/indicators${query}`);
      expect(res.status, query).toBe(status);
      const body: unknown = await res.json();
      expect(body).toMatchObject({ error: expect.stringContaining(message), streams: [STREAM] });
    }
  });

  it('reports readiness only once the feed is connected and warmed up', async () => {
    const { ingest, base, algo } = await start({ [STREAM]: walk(0, 10) }, {}, false);
    await ingest.stopEdge();
    // Before the first session, or right after the edge went away: not ready.
    await waitFor('not connected', () => !algo.feed.isConnected);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await ingest.startEdge();
    await waitFor('ready', () => algo.feed.isReady);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('exports Prometheus metrics for candles, points, signals, clients and reconnects', async () => {
    const scenario = rubberbandScenario();
    const { ingest, base, wsUrl } = await start({ [STREAM]: scenario.slice(0, 20) });
    const client = await connect(wsUrl);
    publishLive(ingest, STREAM, scenario.slice(20));
    await waitFor('updates', () => client.of('indicator').length === 2 * (scenario.length - 20));
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain(
      `algo_candles_received_total{stream="${STREAM}",state="closed"} ${scenario.length}`,
    );
    expect(text).toContain(`algo_points_emitted_total{stream="${STREAM}",final="true"} ${scenario.length}`);
    expect(text).toContain(`algo_signals_fired_total{stream="${STREAM}",side="overbought"} 1`);
    expect(text).toContain(`algo_signals_fired_total{stream="${STREAM}",side="oversold"} 1`);
    expect(text).toContain('algo_ws_clients 1');
    expect(text).toContain('algo_feed_connected 1');
    expect(text).toContain('algo_feed_reconnects_total 0');
    expect(text).toContain('algo_ws_slow_consumers_dropped_total 0');
  });
});
