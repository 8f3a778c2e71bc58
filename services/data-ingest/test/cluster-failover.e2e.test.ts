/**
 * Two data-ingest processes own the same upstream streams (active-active) through NATS JetStream,
 * in front of the simulated exchange. Killing either with SIGKILL (kill -9), restarting it and
 * killing the other loses no closed candle and doubles none: the store holds every candle once,
 * equal to the exchange's, and a subscriber sees every one once, in order, with no gap.
 *
 * The simulated exchange runs in its own process, as the services do: at 600x it is busy enough
 * that, sharing this process's event loop, it could starve the subscriber under test on a loaded
 * machine until nats-server cut it off as a slow consumer (its core-subject trades then lost).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { MarketEvent } from '@visualgo/bus';
import { decodeEvent, KLINE_STREAM, klineSubject, NatsBus } from '@visualgo/bus/nats';
import { type Candle, candleIndexOf } from '@visualgo/market';
import { ServiceProcess, TestNatsServer, waitFor } from '@visualgo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const STREAMS = ['ethusdt@kline_1m', 'btcusdt@kline_1m'] as const;

let nats: TestNatsServer;
let sim: ServiceProcess;
/** The exchange's REST base URL and its control API (ground truth). */
let simUrl: string;
let controlUrl: string;
let bus: NatsBus;
const ingests: ServiceProcess[] = [];

function startIngest(instance: number): ServiceProcess {
  const p = new ServiceProcess(`data-ingest-${instance}`, 'services/data-ingest/src/main.ts', {
    MARKET_SOURCE: 'sim',
    SIM_URL: simUrl,
    SYMBOLS: 'ethusdt,btcusdt',
    INTERVALS: '1m',
    TRADES: 'true',
    HISTORY_CANDLES: '200',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: '0',
    INGEST_HTTP_PORT: '0',
    UPSTREAM_STALE_MS: '2000',
    NATS_URL: nats.url,
    INGEST_INSTANCES: '2',
    INGEST_INSTANCE: String(instance),
    LOG_LEVEL: 'info',
  });
  ingests.push(p);
  return p;
}

/** Every message stored for a stream, in store order, duplicates and all. */
async function storedCandles(stream: string): Promise<Candle[]> {
  const jsm = await jetstreamManager(bus.connection);
  const [symbol] = stream.split('@');
  const subject = klineSubject('binance-sim', (symbol ?? '').toUpperCase(), '1m');
  const out: Candle[] = [];
  for (let seq = 1; ; ) {
    const msg = await jsm.direct.getMessage(KLINE_STREAM, { seq, next_by_subj: subject });
    if (!msg) return out;
    const event = decodeEvent(msg.data);
    if (event.type === 'candle') out.push(event.candle);
    seq = msg.seq + 1;
  }
}

const index = (c: Pick<Candle, 'openTimeMs'>) => candleIndexOf('1m', c.openTimeMs);

/** The exchange's own candles of `stream` opened in [startMs, endMs], from its ground truth. */
async function truthCandles(stream: string, startMs: number, endMs: number): Promise<Candle[]> {
  const url = `${controlUrl}/truth/candles?stream=${stream}&startTime=${startMs}&endTime=${endMs}`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { candles: Candle[] }).candles;
}

beforeAll(async () => {
  nats = await TestNatsServer.start();
  // 600x: a one-minute candle closes every 100 ms.
  sim = new ServiceProcess('sim-exchange', 'services/sim-exchange/src/main.ts', {
    SIM_HOST: '127.0.0.1',
    SIM_PORT: '0',
    SIM_SPEED: '600',
    SIM_SYMBOLS: 'ETHUSDT,BTCUSDT',
    SIM_HISTORY_DAYS: '1',
    SIM_CONTROL_API: 'true',
    LOG_LEVEL: 'info',
  });
  const ready = await sim.waitForLog((l) => l.msg === 'simulated Binance ready');
  simUrl = String(ready.rest);
  controlUrl = String(ready.control);
  bus = await NatsBus.connect({ servers: nats.url, name: 'test-subscriber' }, { venue: 'binance-sim' });
}, 30_000);

afterAll(async () => {
  await Promise.all(ingests.map((p) => p.stop('SIGKILL')));
  await bus?.close();
  await sim?.stop('SIGTERM');
  await nats?.stop();
});

describe('two data-ingest owners of the same shard', () => {
  it('lose nothing and double nothing when either is killed with SIGKILL', async () => {
    const abort = new AbortController();
    const seen = new Map<string, number[]>(STREAMS.map((s) => [s, []]));
    const trades: number[] = [];
    const subscription = bus.subscribe({ streams: [...STREAMS, 'ethusdt@trade'], signal: abort.signal });
    const reading = (async () => {
      for await (const event of subscription as AsyncIterable<MarketEvent>) {
        if (event.type === 'candle' && event.candle.closed) seen.get(event.stream)?.push(event.seq);
        if (event.type === 'trade') trades.push(event.seq);
      }
    })();
    const closedSeen = () => Math.min(...STREAMS.map((s) => seen.get(s)?.length ?? 0));

    const [a, b] = [startIngest(0), startIngest(1)];
    const started = (line: { msg?: string }) => line.msg === 'data-ingest started';
    await Promise.all([a.waitForLog(started), b.waitForLog(started)]);
    await waitFor('20 closed candles of each stream', () => closedSeen() >= 20, 30_000);
    // An owner serves its own edges from what it ingests: it takes none of its streams from NATS,
    // so the other owner's copies never queue in front of its JetStream acknowledgements.
    const interest = await nats.subscriptions();
    for (const name of ['data-ingest-0', 'data-ingest-1'])
      expect(
        (interest.get(name) ?? []).filter((s) => s.startsWith('md.')),
        name,
      ).toEqual([]);

    await a.kill9();
    const atKill = closedSeen();
    await waitFor('20 more after killing instance 0', () => closedSeen() >= atKill + 20, 30_000);

    const again = startIngest(0);
    await again.waitForLog(started);
    await again.waitForLog((l) => l.msg === 'history loaded');
    await b.kill9();
    const atSecondKill = closedSeen();
    await waitFor('20 more after killing instance 1', () => closedSeen() >= atSecondKill + 20, 30_000);
    await again.stop('SIGTERM');
    abort.abort();
    await reading;

    for (const stream of STREAMS) {
      const got = seen.get(stream) ?? [];
      // The subscriber: every closed candle once, in order, no gap, across both kills.
      const gaps = got.flatMap((x, i) =>
        i > 0 && x !== (got[i - 1] as number) + 1 ? [`${got[i - 1]} -> ${x} at ${i}/${got.length}`] : [],
      );
      expect(gaps, `${stream} seen by the subscriber`).toEqual([]);
      // The store: every candle once (start-up history and live alike), in order, no gap.
      const stored = await storedCandles(stream);
      const storedIdx = stored.map(index);
      const breaks = storedIdx.flatMap((x, i) =>
        i > 0 && x !== (storedIdx[i - 1] as number) + 1
          ? [`${storedIdx[i - 1]} -> ${x} at ${i}/${storedIdx.length}`]
          : [],
      );
      expect(breaks, `${stream} in the store`).toEqual([]);
      expect(storedIdx).toContain(got.at(-1));
      // And each one is the exchange's candle.
      const first = stored[0] as Candle;
      const last = stored.at(-1) as Candle;
      const truth = await truthCandles(stream, first.openTimeMs, last.openTimeMs);
      const fields = (c: Candle) => [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume, c.trades];
      expect(stored.map(fields)).toEqual(truth.filter((c) => c.closed).map(fields));
    }
    // Trades are live only: once each and in id order, and the kills cost none (the other owner had them).
    expect(trades.every((id, i) => i === 0 || id > (trades[i - 1] as number))).toBe(true);
    const gaps = trades.flatMap((id, i) =>
      i > 0 && id !== (trades[i - 1] as number) + 1 ? [[trades[i - 1], id, i, trades.length]] : [],
    );
    expect(gaps).toEqual([]);
    // The candle events carried what was stored (seq = candle index).
    const last = (await storedCandles(STREAMS[0])).at(-1) as Candle;
    expect((seen.get(STREAMS[0]) ?? []).includes(index(last))).toBe(true);
  }, 120_000);
});
