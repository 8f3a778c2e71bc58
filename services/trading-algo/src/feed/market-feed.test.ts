import type { StatusMessage } from '@visualgo/contracts';
import { type Candle, DEFAULT_INDICATOR_CONFIG, IndicatorSet } from '@visualgo/market';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { IndicatorEngine } from '../engine/indicator-engine.js';
import { STREAM, STREAM_2, walk, walkCandle } from '../testing/candles.js';
import { IngestHarness } from '../testing/ingest-harness.js';
import { waitFor } from '../testing/ws-client.js';
import { MarketFeed, type MarketFeedOptions } from './market-feed.js';

const logger = pino({ level: 'silent' });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startIngest(history: readonly Candle[], historyCandles = 1_000): Promise<IngestHarness> {
  const ingest = await IngestHarness.start({ streams: { [STREAM]: history }, historyCandles });
  cleanups.push(() => ingest.close());
  return ingest;
}

function startAlgo(
  target: string,
  historyPoints = 10_000,
  staleMs = 60_000,
  feedOptions: Partial<MarketFeedOptions> = {},
) {
  const rejected: string[] = [];
  const engine = new IndicatorEngine({
    indicators: DEFAULT_INDICATOR_CONFIG,
    historyPoints,
    logger,
    metrics: {
      candleIn: () => {},
      pointOut: () => {},
      signalFired: () => {},
      rejected: (_s, r) => rejected.push(r),
    },
  });
  const statuses: StatusMessage[] = [];
  let reconnects = 0;
  let stale = 0;
  const feed = new MarketFeed({
    target,
    streams: [],
    warmupFromMs: (info, latest) => engine.warmupFromMs(info, latest),
    staleMs,
    logger,
    backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
    ...feedOptions,
    metrics: {
      connected: () => {},
      reconnect: () => reconnects++,
      stale: () => stale++,
      gap: () => {},
      invalidMessage: () => {},
    },
    sink: {
      declareStreams: (infos) => engine.declareStreams(infos),
      candle: (stream, candle, bulk) => engine.onCandle(stream, candle, bulk),
      completeFrom: (stream, openTimeMs) => engine.completeFrom(stream, openTimeMs),
      historyLoaded: (stream) => engine.historyLoaded(stream),
      status: (m) => statuses.push(m),
    },
  });
  feed.start();
  cleanups.push(() => feed.stop());
  return {
    engine,
    feed,
    statuses,
    rejected,
    reconnects: () => reconnects,
    stale: () => stale,
    sessions: () => Number(feed.describe().sessions),
  };
}

/** Publishes candles [from, to) as an open update followed by the closed candle. */
function publishLive(ingest: IngestHarness, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    ingest.publish(STREAM, walkCandle(i, false));
    ingest.publish(STREAM, walkCandle(i, true));
  }
}

/** The final series an uninterrupted IndicatorSet computes over closed candles [0, n). */
function referenceSeries(n: number) {
  const set = new IndicatorSet(DEFAULT_INDICATOR_CONFIG);
  return walk(0, n).map((c) => {
    const p = set.addClosed(c);
    if (p.type !== 'indicator-point') throw new Error('reference rejected a candle');
    return {
      openTimeMs: p.openTimeMs,
      ema: p.ema,
      atr: p.atr,
      vwap: p.vwap,
      stretch: p.stretch,
      signal: p.signal,
    };
  });
}

function finalSeries(engine: IndicatorEngine) {
  return (engine.history(STREAM, 10_000) ?? []).map((p) => ({
    openTimeMs: p.openTimeMs,
    ema: p.ema,
    atr: p.atr,
    vwap: p.vwap,
    stretch: p.stretch,
    signal: p.signal,
  }));
}

describe('MarketFeed', () => {
  it('warms up from data-ingest history, then follows it live', async () => {
    const ingest = await startIngest(walk(0, 50));
    const { engine, feed, statuses } = startAlgo(ingest.target);
    await waitFor('ready', () => feed.isReady);
    expect(engine.finalCount(STREAM)).toBe(50);
    publishLive(ingest, 50, 70);
    await waitFor('70 final points', () => engine.finalCount(STREAM) === 70);
    expect(finalSeries(engine)).toEqual(referenceSeries(70));
    expect(statuses).toContainEqual(expect.objectContaining({ scope: 'feed', state: 'connected' }));
    expect(statuses).toContainEqual(expect.objectContaining({ scope: 'upstream', state: 'connected' }));
    expect(engine.info(STREAM)).toEqual({
      stream: STREAM,
      exchange: 'binance-sim',
      symbol: 'BTCUSDT',
      interval: '1m',
    });
  });

  it('warms up from the calendar origin of its oldest kept point, giving the values of a full-history run', async () => {
    // Three days from Monday 00:00; 500 points kept. The oldest kept point, day 3 at 15:40, needs
    // day 3's VWAP and the chain of day 3, which starts at 17:32 on day 2: 1,828 candles, two pages.
    const ingest = await startIngest(walk(0, 3 * 1_440), 10_000);
    const { engine, feed, statuses } = startAlgo(ingest.target, 500);
    await waitFor('ready', () => feed.isReady, 10_000);
    expect(engine.finalCount(STREAM)).toBe(3 * 1_440 - (1_440 + 1_052));
    const kept = engine.history(STREAM, 500) ?? [];
    expect(kept).toHaveLength(500);
    expect(kept[0]?.openTimeMs).toBe(walkCandle(3 * 1_440 - 500).openTimeMs);
    const reference = referenceSeries(3 * 1_440).slice(-500);
    expect(finalSeries(engine)).toEqual(reference);
    expect(
      kept.every((p) => p.converged && !p.vwapPartial && p.vwapFromMs === walkCandle(2 * 1_440).openTimeMs),
    ).toBe(true);
    expect(statuses.filter((s) => s.state === 'gap-detected')).toEqual([]);
  });

  it('resumes after data-ingest restarts with a final series identical to an uninterrupted run', async () => {
    // Uninterrupted run.
    const steady = await startIngest(walk(0, 40));
    const a = startAlgo(steady.target);
    await waitFor('A ready', () => a.feed.isReady);
    publishLive(steady, 40, 120);
    await waitFor('A complete', () => a.engine.finalCount(STREAM) === 120);

    // The same candles, with the gRPC edge going away mid-stream and candles closing meanwhile.
    const restarted = await startIngest(walk(0, 40));
    const b = startAlgo(restarted.target);
    await waitFor('B ready', () => b.feed.isReady);
    publishLive(restarted, 40, 70);
    await waitFor('B at 70', () => b.engine.finalCount(STREAM) === 70);
    await restarted.stopEdge();
    await waitFor('B disconnected', () => !b.feed.isConnected);
    publishLive(restarted, 70, 95);
    restarted.publish(STREAM, walkCandle(95, false));
    await restarted.startEdge();
    await waitFor('B reconnected', () => b.feed.isConnected);
    publishLive(restarted, 95, 120);
    await waitFor('B complete', () => b.engine.finalCount(STREAM) === 120);

    expect(b.reconnects()).toBeGreaterThanOrEqual(1);
    // Resumed exactly after the last final candle: nothing was delivered twice.
    expect(b.rejected).toEqual([]);
    expect(b.statuses.map((s) => `${s.scope}:${s.state}`)).toEqual(
      expect.arrayContaining(['feed:connected', 'feed:disconnected']),
    );
    const series = finalSeries(b.engine);
    expect(series).toHaveLength(120);
    expect(series).toEqual(finalSeries(a.engine));
    expect(series).toEqual(referenceSeries(120));
  });

  it('restarts a session on which data-ingest stays connected but sends nothing, losing and repeating no candle', async () => {
    const STALE_MS = 300;
    // Uninterrupted run, watchdog off.
    const steady = await startIngest(walk(0, 40));
    const a = startAlgo(steady.target, 1_000, 0);
    await waitFor('A ready', () => a.feed.isReady);
    publishLive(steady, 40, 100);
    await waitFor('A complete', () => a.engine.finalCount(STREAM) === 100);

    const ingest = await startIngest(walk(0, 40));
    const b = startAlgo(ingest.target, 1_000, STALE_MS);
    await waitFor('B ready', () => b.feed.isReady);
    publishLive(ingest, 40, 60);
    ingest.publish(STREAM, walkCandle(60, false));
    await waitFor('B at 60', () => b.engine.finalCount(STREAM) === 60);

    // The upstream stalls with candle 60 open: data-ingest stays connected and sends nothing.
    await waitFor('stale session ended', () => b.stale() >= 1, 3_000);
    await waitFor('B reconnected', () => b.feed.isConnected && b.sessions() >= 2);
    expect(b.statuses).toContainEqual(
      expect.objectContaining({
        scope: 'feed',
        state: 'disconnected',
        detail: expect.stringMatching(/^stale: no candle message for \d+ ms$/),
      }),
    );
    expect(
      b.statuses.filter((s) => s.scope === 'feed' && s.state === 'connected').length,
    ).toBeGreaterThanOrEqual(2);

    // Publishing resumes, then stalls again and resumes once more, with the restarted sessions
    // coming and going around it.
    publishLive(ingest, 60, 80);
    await waitFor('B at 80', () => b.engine.finalCount(STREAM) === 80);
    const staleBefore = b.stale();
    await waitFor('stale again', () => b.stale() > staleBefore, 3_000);
    publishLive(ingest, 80, 100);
    await waitFor('B complete', () => b.engine.finalCount(STREAM) === 100);

    expect(b.reconnects()).toBeGreaterThanOrEqual(b.stale());
    expect(b.rejected).toEqual([]);
    const series = finalSeries(b.engine);
    expect(series).toHaveLength(100);
    expect(series).toEqual(finalSeries(a.engine));
    expect(series).toEqual(referenceSeries(100));
  });

  it('keeps a session whose candle messages keep coming, however slowly the candles close', async () => {
    const ingest = await startIngest(walk(0, 20));
    const open = walkCandle(20, false);
    const update = (k: number) =>
      ingest.publish(STREAM, {
        ...open,
        eventTimeMs: open.eventTimeMs + k,
        receivedTimeMs: open.receivedTimeMs + k,
      });
    // Already open when the session starts: StreamCandles answers with it at once.
    update(0);
    const { engine, feed, stale, sessions } = startAlgo(ingest.target, 1_000, 300);
    await waitFor('ready', () => feed.isReady);
    // Open-candle updates every 100 ms for over a second: no candle closes, yet the feed is live.
    for (let k = 1; k <= 12; k++) {
      update(k);
      await new Promise((r) => setTimeout(r, 100));
    }
    ingest.publish(STREAM, walkCandle(20, true));
    await waitFor('21 final points', () => engine.finalCount(STREAM) === 21);
    expect(stale()).toBe(0);
    expect(sessions()).toBe(1);
    expect(feed.isConnected).toBe(true);
  });

  it('never restarts a silent session with FEED_STALE_MS=0', async () => {
    const ingest = await startIngest(walk(0, 20));
    const { feed, stale, sessions, reconnects, statuses } = startAlgo(ingest.target, 1_000, 0);
    await waitFor('ready', () => feed.isReady);
    await new Promise((r) => setTimeout(r, 600));
    expect(stale()).toBe(0);
    expect(reconnects()).toBe(0);
    expect(sessions()).toBe(1);
    expect(feed.isConnected).toBe(true);
    expect(statuses.filter((s) => s.scope === 'feed' && s.state === 'disconnected')).toEqual([]);
  });

  it('waits for data-ingest to come up when it is not reachable at start', async () => {
    const ingest = await startIngest(walk(0, 30));
    await ingest.stopEdge();
    const { engine, feed, reconnects } = startAlgo(ingest.target);
    await waitFor('a few failed attempts', () => reconnects() >= 2);
    expect(feed.isReady).toBe(false);
    await ingest.startEdge();
    await waitFor('ready', () => feed.isReady);
    expect(engine.finalCount(STREAM)).toBe(30);
  });

  it('reports a gap when data-ingest no longer holds the candles missed while disconnected', async () => {
    const ingest = await startIngest(walk(0, 50), 60);
    const { engine, feed, statuses } = startAlgo(ingest.target);
    await waitFor('ready', () => feed.isReady);
    await ingest.stopEdge();
    publishLive(ingest, 50, 120); // the hub keeps the last 60: 60..119
    await ingest.startEdge();
    await waitFor('caught up', () => engine.finalCount(STREAM) === 110);
    const gap = statuses.find((s) => s.state === 'gap-detected');
    expect(gap).toMatchObject({
      scope: 'feed',
      stream: STREAM,
      fromOpenTimeMs: walkCandle(50).openTimeMs,
      toOpenTimeMs: walkCandle(59).openTimeMs,
    });
  });

  it('flags the values after a hole data-ingest could not fill, until the next VWAP period and chain', async () => {
    // The market began at T0 (nothing before); the exchange fails for anything later.
    const ingest = await IngestHarness.start({
      streams: { [STREAM]: walk(0, 50) },
      exchangeFailsFromMs: walkCandle(0).openTimeMs,
    });
    cleanups.push(() => ingest.close());
    const { engine, feed, statuses } = startAlgo(ingest.target);
    await waitFor('ready', () => feed.isReady);
    publishLive(ingest, 50, 60);
    // 60..69 never arrive; 70 closes: data-ingest cannot fill the hole from the exchange.
    publishLive(ingest, 70, 75);
    await waitFor('70..74 final', () => engine.finalCount(STREAM) === 65);
    expect(statuses).toContainEqual(
      expect.objectContaining({ scope: 'upstream', state: 'gap-unfilled', stream: STREAM }),
    );
    const points = engine.history(STREAM, 100) ?? [];
    const before = points.filter((p) => p.openTimeMs < walkCandle(60).openTimeMs);
    const after = points.filter((p) => p.openTimeMs >= walkCandle(70).openTimeMs);
    expect(before.every((p) => p.converged && !p.vwapPartial)).toBe(true);
    expect(after).toHaveLength(5);
    expect(after.every((p) => !p.converged && p.vwapPartial && p.signal === 'none')).toBe(true);
  });

  it('starts from the candles data-ingest holds when the exchange cannot serve the warm-up, flagged', async () => {
    const ingest = await IngestHarness.start({
      streams: { [STREAM]: walk(100, 50) },
      exchangeFailsFromMs: 0,
    });
    cleanups.push(() => ingest.close());
    const { engine, feed, statuses, reconnects } = startAlgo(ingest.target);
    await waitFor('ready', () => feed.isReady);
    expect(reconnects()).toBe(2);
    expect(engine.finalCount(STREAM)).toBe(50);
    expect(statuses).toContainEqual(
      expect.objectContaining({
        scope: 'feed',
        state: 'gap-detected',
        toOpenTimeMs: walkCandle(99).openTimeMs,
      }),
    );
    // Nothing is passed off as exact: the day's VWAP lacks 00:00-01:39, the chains their warm-up.
    const points = engine.history(STREAM, 100) ?? [];
    expect(points).toHaveLength(50);
    expect(
      points.every((p) => p.vwapPartial && !p.converged && p.vwapFromMs === walkCandle(100).openTimeMs),
    ).toBe(true);
  });

  it('waits for warm-up history data-ingest must first take from the exchange, past the deadline of held reads', async () => {
    // data-ingest holds candles 100-149; the day's origin, candle 0, only the exchange has, and it
    // answers each request after 300 ms (as data-ingest does with its REST weight budget spent,
    // until the next minute): three times the deadline of calls answered from what it holds.
    const ingest = await IngestHarness.start({
      streams: { [STREAM]: walk(100, 50) },
      exchangeCandles: walk(0, 100),
      exchangeDelayMs: 300,
    });
    cleanups.push(() => ingest.close());
    const { engine, feed, statuses, reconnects } = startAlgo(ingest.target, 10_000, 60_000, {
      callTimeoutMs: 100,
    });
    await waitFor('ready', () => feed.isReady, 10_000);
    expect(reconnects()).toBe(0);
    expect(finalSeries(engine)).toEqual(referenceSeries(150));
    expect((engine.history(STREAM, 150) ?? []).some((p) => p.vwapPartial)).toBe(false);
    expect(statuses.filter((s) => s.state === 'gap-detected')).toEqual([]);
  });

  it('relays data-ingest feed status changes', async () => {
    const ingest = await startIngest(walk(0, 10));
    const { feed, statuses } = startAlgo(ingest.target);
    await waitFor('ready', () => feed.isReady);
    // The first message of StreamFeedStatus is the current state: the subscription is live.
    await waitFor('upstream state', () =>
      statuses.some((s) => s.scope === 'upstream' && s.state === 'connected'),
    );
    ingest.hub.setConnected(false, 'exchange socket closed');
    await waitFor('upstream disconnected', () =>
      statuses.some((s) => s.scope === 'upstream' && s.state === 'disconnected'),
    );
    expect(statuses.find((s) => s.scope === 'upstream' && s.state === 'disconnected')).toMatchObject({
      detail: 'exchange socket closed',
      exchange: 'binance-sim',
      stream: null,
    });
  });

  it('follows several streams, each with its own state', async () => {
    const ingest = await IngestHarness.start({
      streams: { [STREAM]: walk(0, 20), [STREAM_2]: walk(0, 30, 'ETHUSDT') },
    });
    cleanups.push(() => ingest.close());
    const { engine, feed } = startAlgo(ingest.target);
    await waitFor('ready', () => feed.isReady);
    expect(
      engine
        .streams()
        .map((s) => s.stream)
        .sort(),
    ).toEqual([STREAM, STREAM_2].sort());
    ingest.publish(STREAM_2, walkCandle(30, true, 'ETHUSDT'));
    await waitFor('eth point', () => engine.finalCount(STREAM_2) === 31);
    expect(engine.finalCount(STREAM)).toBe(20);
  });
});
