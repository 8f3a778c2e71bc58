import type { WireIndicatorPoint } from '@visualgo/contracts/algo';
import { beforeEach, describe, expect, it } from 'vitest';
import { indicator, ManualClock, point, SocketRecorder, STREAM, snapshot, T0 } from '../testing/fakes.js';
import {
  type ChartPort,
  DashboardController,
  PROVISIONAL_REDRAW_MS,
  STALE_AFTER_MS,
} from './dashboard-controller.js';
import type { RuntimeConfig } from './runtime-config.js';

const config: RuntimeConfig = {
  algoHttpUrl: 'http://algo.test',
  algoWsUrl: 'ws://algo.test/ws',
  ingestHttpUrl: 'http://ingest.test',
  ingestWsUrl: 'ws://ingest.test',
  defaultStream: STREAM,
  rubberbandK: 2,
  signalHorizonCandles: 3,
};

/** Records what the controller asked the chart to draw. */
class ChartRecorder implements ChartPort {
  readonly calls: { kind: 'reset' | 'tail'; points: WireIndicatorPoint[]; prepended?: number }[] = [];
  watermark = '';
  reset(
    finals: readonly WireIndicatorPoint[],
    open: WireIndicatorPoint | null,
    view?: { prepended?: number },
  ): void {
    this.calls.push({
      kind: 'reset',
      points: open ? [...finals, open] : [...finals],
      ...(view?.prepended ? { prepended: view.prepended } : {}),
    });
  }
  applyTail(points: readonly WireIndicatorPoint[]): void {
    this.calls.push({ kind: 'tail', points: [...points] });
  }
  setWatermark(text: string): void {
    this.watermark = text;
  }
}

let clock: ManualClock;
let sockets: SocketRecorder;
let chart: ChartRecorder;
let frames: (() => void)[];
let fetched: string[];
let responses: Map<string, unknown>;

function frame(): void {
  const pending = frames;
  frames = [];
  for (const f of pending) f();
}

function makeController(options: { maxCandles?: number; tapeLength?: number } = {}): DashboardController {
  const controller = new DashboardController({
    config,
    stream: STREAM,
    socketFactory: sockets.factory,
    clock,
    requestFrame: (f) => frames.push(f),
    fetch: (async (input: string | URL | Request) => {
      const url = String(input);
      fetched.push(url);
      const key = [...responses.keys()].find((k) => url.includes(k));
      if (key === undefined) return new Response('{}', { status: 404 });
      return new Response(JSON.stringify(responses.get(key)), { status: 200 });
    }) as typeof fetch,
    backoff: { initialMs: 500, maxMs: 8_000, random: () => 0.5 },
    ...options,
  });
  controller.attachChart(chart);
  chart.calls.length = 0;
  controller.start();
  return controller;
}

beforeEach(() => {
  clock = new ManualClock();
  sockets = new SocketRecorder();
  chart = new ChartRecorder();
  frames = [];
  fetched = [];
  responses = new Map();
});

describe('DashboardController', () => {
  it('asks trading-algo for the stream on view and data-ingest for its trades', () => {
    makeController();
    expect(sockets.last('algo').url).toBe('ws://algo.test/ws?streams=btcusdt%40kline_1m');
    expect(sockets.last('ingest').url).toBe('ws://ingest.test/stream?streams=btcusdt%40trade');
  });

  it('draws a snapshot at once, marked SIMULATED when the candles come from binance-sim', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive({
      type: 'status',
      scope: 'feed',
      state: 'connected',
      stream: null,
      exchange: 'binance-sim',
      fromOpenTimeMs: null,
      toOpenTimeMs: null,
      detail: null,
      timeMs: T0,
    });
    ws.receive(snapshot([point(0), point(1)]));
    expect(chart.calls).toEqual([]);
    frame();
    expect(chart.calls).toEqual([{ kind: 'reset', points: [point(0), point(1)] }]);
    expect(chart.watermark).toBe('SIMULATED');
    const view = c.view();
    expect(view.simulated).toBe(true);
    expect(view.lastFinal).toEqual(point(1));
    expect(view.algo.state).toBe('live');
    expect(view.health.feed).toEqual({ state: 'connected', detail: null, sinceMs: T0 });
  });

  it('batches a burst per frame: many provisional updates of one candle cost one chart update', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot([point(0)]));
    frame();
    chart.calls.length = 0;
    for (let i = 0; i < 50; i++) ws.receive(indicator(point(1, { final: false, close: 100 + i })));
    expect(frames).toHaveLength(1);
    frame();
    expect(chart.calls).toEqual([{ kind: 'tail', points: [point(1, { final: false, close: 149 })] }]);
    expect(c.view().provisional?.close).toBe(149);
  });

  it('redraws the open candle at most every PROVISIONAL_REDRAW_MS, a closed one at once', () => {
    makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot([point(0)]));
    frame();
    chart.calls.length = 0;
    ws.receive(indicator(point(1, { final: false, close: 1 })));
    frame();
    clock.advance(16);
    ws.receive(indicator(point(1, { final: false, close: 2 })));
    frame();
    expect(chart.calls.map((c) => c.points[0]?.close)).toEqual([1]);
    clock.advance(PROVISIONAL_REDRAW_MS);
    frame();
    expect(chart.calls.map((c) => c.points[0]?.close)).toEqual([1, 2]);
    ws.receive(indicator(point(1, { final: false, close: 3 })));
    frame();
    ws.receive(indicator(point(1)));
    frame();
    expect(chart.calls.map((c) => c.points.map((p) => p.close))).toEqual([[1], [2], [101]]);
  });

  it('replaces the provisional candle with its final point, then opens the next one', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot([point(0)]));
    frame();
    chart.calls.length = 0;
    ws.receive(indicator(point(1, { final: false })));
    frame();
    ws.receive(indicator(point(1)));
    ws.receive(indicator(point(2, { final: false })));
    frame();
    expect(chart.calls).toEqual([
      { kind: 'tail', points: [point(1, { final: false })] },
      { kind: 'tail', points: [point(1), point(2, { final: false })] },
    ]);
    expect(c.view().lastFinal).toEqual(point(1));
    expect(c.view().provisional).toEqual(point(2, { final: false }));
    expect(c.view().candleCount).toBe(2);
  });

  it('lists signals with what the price did in the N candles after, and the arming per side', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(
      snapshot([
        point(0),
        point(1, { signal: 'overbought', stretch: 2.4, close: 110 }),
        point(2, { close: 108, high: 112, low: 107, stretch: 1.8 }),
      ]),
    );
    ws.receive({
      type: 'signal',
      stream: STREAM,
      exchange: 'binance-sim',
      openTimeMs: point(1).openTimeMs,
      side: 'overbought',
      close: 110,
      ema: 105,
      vwap: 104,
      stretch: 2.4,
    });
    frame();
    let [s] = c.view().signals;
    expect(s).toMatchObject({ side: 'overbought', close: 110, candlesAfter: 1, horizon: 3, reverted: true });
    expect(s?.changePct).toBeCloseTo(((108 - 110) / 110) * 100, 12);
    expect(s?.bestPct).toBeCloseTo(((107 - 110) / 110) * 100, 12);
    expect(s?.worstPct).toBeCloseTo(((112 - 110) / 110) * 100, 12);
    expect(c.view().arming.overbought).toEqual({ armed: false, lastFiredMs: point(1).openTimeMs });
    expect(c.view().arming.oversold.armed).toBe(true);
    // |stretch| < K/2 re-arms; the outcome then covers the full horizon.
    ws.receive(indicator(point(3, { close: 105, stretch: 0.5 })));
    ws.receive(indicator(point(4, { close: 104, stretch: 0.2 })));
    frame();
    [s] = c.view().signals;
    expect(s?.candlesAfter).toBe(3);
    expect(s?.changePct).toBeCloseTo(((104 - 110) / 110) * 100, 12);
    expect(c.view().arming.overbought.armed).toBe(true);
  });

  it('re-arms both sides when a new VWAP period starts', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot([point(0, { signal: 'oversold', stretch: -2.5 }), point(1, { stretch: -1.5 })]));
    frame();
    expect(c.view().arming.oversold.armed).toBe(false);
    ws.receive(indicator(point(2, { stretch: -1.5, vwapFromMs: point(2).openTimeMs })));
    frame();
    expect(c.view().arming.oversold.armed).toBe(true);
  });

  it('folds status messages: backend links, and each reported gap with its latest state', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    const gap = {
      type: 'status',
      scope: 'upstream',
      stream: STREAM,
      exchange: 'binance-sim',
      fromOpenTimeMs: point(3).openTimeMs,
      toOpenTimeMs: point(5).openTimeMs,
      detail: null,
      timeMs: T0,
    } as const;
    ws.receive({ ...gap, state: 'gap-detected' });
    ws.receive({ ...gap, state: 'gap-filled' });
    ws.receive({ ...gap, stream: 'ethusdt@kline_1m', state: 'gap-unfilled' });
    ws.receive({
      ...gap,
      scope: 'feed',
      state: 'disconnected',
      stream: null,
      fromOpenTimeMs: null,
      toOpenTimeMs: null,
      detail: 'UNAVAILABLE',
    });
    frame();
    const { health } = c.view();
    expect(health.gaps).toHaveLength(1);
    expect(health.gaps[0]).toMatchObject({
      state: 'gap-filled',
      fromOpenTimeMs: point(3).openTimeMs,
      toOpenTimeMs: point(5).openTimeMs,
    });
    expect(health.feed).toMatchObject({ state: 'disconnected', detail: 'UNAVAILABLE' });
  });

  it('reconnects with capped, jittered backoff and resubscribes; the new snapshot replaces the series', () => {
    const c = makeController();
    let ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot([point(0), point(1)]));
    frame();
    ws.serverClose(1001, 'server shutting down');
    expect(c.view().algo).toMatchObject({ state: 'reconnecting', attempt: 1 });
    // random() = 0.5 and jitter 0.5: each delay is 3/4 of the doubling step, capped at 8 s.
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      const retryAt = c.view().algo.retryAtMs ?? Number.NaN;
      delays.push(retryAt - clock.now());
      const before = sockets.count('algo');
      clock.advance(retryAt - clock.now() - 1);
      expect(sockets.count('algo')).toBe(before);
      clock.advance(1);
      expect(sockets.count('algo')).toBe(before + 1);
      sockets.last('algo').serverClose(1006);
    }
    expect(delays).toEqual([375, 750, 1500, 3000, 6000, 6000]);
    clock.advance(8_000);
    ws = sockets.last('algo');
    expect(ws.url).toBe('ws://algo.test/ws?streams=btcusdt%40kline_1m');
    ws.open();
    expect(c.view().algo.state).toBe('live');
    ws.receive(snapshot([point(1), point(2), point(3)]));
    frame();
    expect(c.view().algo).toMatchObject({ state: 'live', attempt: 0 });
    expect(c.store.finals.map((p) => p.close)).toEqual([101, 102, 103]);
    // A healthy connection resets the backoff: the next drop waits the first delay again.
    ws.serverClose(1006);
    expect((c.view().algo.retryAtMs ?? 0) - clock.now()).toBe(375);
  });

  it('switches stream on the open connection (subscribe, then unsubscribe) and ignores the old stream after', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot([point(0)]));
    frame();
    c.selectStream('ethusdt@kline_1m');
    expect(ws.sent.map((s) => JSON.parse(s))).toEqual([
      { op: 'subscribe', streams: ['ethusdt@kline_1m'] },
      { op: 'unsubscribe', streams: [STREAM] },
    ]);
    expect(c.view().candleCount).toBe(0);
    expect(sockets.last('ingest').url).toBe('ws://ingest.test/stream?streams=ethusdt%40trade');
    ws.receive(indicator(point(1)));
    ws.receive({ type: 'subscriptions', streams: ['ethusdt@kline_1m'] });
    ws.receive(snapshot([point(7, { close: 3000 })], 'ethusdt@kline_1m'));
    frame();
    expect(c.store.finals.map((p) => p.close)).toEqual([3000]);
    expect(c.view().meta?.symbol).toBe('ETHUSDT');
    // After a reconnect the URL asks for the new stream.
    ws.serverClose(1006);
    clock.advance(1_000);
    expect(sockets.last('algo').url).toBe('ws://algo.test/ws?streams=ethusdt%40kline_1m');
  });

  it('goes stale when the open connection falls silent, live again on data, and replaces a dead one', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot([point(0)]));
    clock.advance(STALE_AFTER_MS - 1_000);
    expect(c.view().algo.state).toBe('live');
    clock.advance(1_000);
    expect(c.view().algo.state).toBe('stale');
    ws.receive(indicator(point(1, { final: false })));
    expect(c.view().algo.state).toBe('live');
    clock.advance(45_000);
    expect(ws.closedByClient).not.toBeNull();
    expect(c.view().algo.state).toBe('reconnecting');
  });

  it('drops and counts frames that are not messages of the contract', () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive('not json');
    ws.receive({ type: 'indicator', stream: STREAM });
    // NaN is not JSON: it arrives as null, which the schema refuses.
    ws.receive(snapshot([point(0, { close: Number.NaN })]));
    frame();
    expect(c.view().badFrames).toBe(3);
    expect(c.view().candleCount).toBe(0);
  });

  it('keeps a capped tape of trades of the symbol on view, newest first, aggressor side from the maker flag', () => {
    const c = makeController({ tapeLength: 3 });
    const ws = sockets.last('ingest');
    ws.open();
    for (let i = 1; i <= 5; i++) {
      ws.receive({
        stream: 'btcusdt@trade',
        data: {
          e: 'trade',
          E: T0 + i,
          s: 'BTCUSDT',
          t: i,
          p: '67000.10000000',
          q: '0.01000000',
          T: T0 + i,
          m: i % 2 === 0,
          M: true,
        },
      });
    }
    frame();
    const { tape } = c.view();
    expect(tape.map((t) => t.id)).toEqual([5, 4, 3]);
    expect(tape.map((t) => t.side)).toEqual(['buy', 'sell', 'buy']);
    expect(tape[0]).toMatchObject({ priceText: '67000.1', qtyText: '0.01', timeMs: T0 + 5 });
    expect(c.view().tradeLagMs).toBe(clock.now() - (T0 + 3));
  });

  it('keeps memory flat: beyond the cap the oldest candles are dropped and the chart redrawn', () => {
    const c = makeController({ maxCandles: 1000 });
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot(Array.from({ length: 1000 }, (_, i) => point(i))));
    frame();
    for (let i = 1000; i < 1200; i++) ws.receive(indicator(point(i)));
    frame();
    expect(c.view().candleCount).toBe(1000);
    expect(c.store.finals[0]?.openTimeMs).toBe(point(200).openTimeMs);
    expect(chart.calls.at(-1)?.kind).toBe('reset');
  });

  it('scrolls back: older indicator points, then plain candles from data-ingest past its history', async () => {
    const c = makeController();
    const ws = sockets.last('algo');
    ws.open();
    ws.receive(snapshot([point(10), point(11)]));
    frame();
    responses.set('/api/indicators', {
      stream: STREAM,
      exchange: 'binance-sim',
      symbol: 'BTCUSDT',
      interval: '1m',
      points: [point(8), point(9), point(10)],
    });
    await c.loadOlder();
    expect(fetched.at(-1)).toBe(
      `http://algo.test/api/indicators?stream=btcusdt%40kline_1m&limit=1000&endTimeMs=${point(10).openTimeMs - 1}`,
    );
    expect(chart.calls.at(-1)).toMatchObject({ kind: 'reset', prepended: 2 });
    responses.set('/api/indicators', {
      stream: STREAM,
      exchange: 'binance-sim',
      symbol: 'BTCUSDT',
      interval: '1m',
      points: [],
    });
    const p7 = point(7);
    responses.set('/api/v3/klines', [
      [p7.openTimeMs, '106.5', '108', '106', '107', '10', p7.closeTimeMs, '1070', 5, '5', '535', '0'],
    ]);
    await c.loadOlder();
    expect(fetched.at(-1)).toBe(
      `http://ingest.test/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime=${point(8).openTimeMs - 1}&limit=1000`,
    );
    expect(c.store.finals[0]).toMatchObject({ openTimeMs: p7.openTimeMs, close: 107, ema: null, vwap: null });
    responses.set('/api/v3/klines', []);
    await c.loadOlder();
    expect(c.view().olderState).toBe('exhausted');
  });
});
