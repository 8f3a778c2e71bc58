import { indicatorMessageSchema, signalMessageSchema, snapshotMessageSchema } from '@visualgo/contracts';
import { DEFAULT_INDICATOR_CONFIG, IndicatorSet } from '@visualgo/market';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { EngineMetrics } from '../algo-metrics.js';
import { rubberbandScenario, STREAM, walk, walkCandle } from '../testing/candles.js';
import { type EngineEvent, IndicatorEngine } from './indicator-engine.js';

const logger = pino({ level: 'silent' });

function setup(historyPoints = 1_000) {
  const counts = { rejected: [] as string[], signals: [] as string[], finals: 0, provisionals: 0 };
  const metrics: EngineMetrics = {
    candleIn: () => {},
    pointOut: (_s, final) => (final ? counts.finals++ : counts.provisionals++),
    signalFired: (_s, side) => counts.signals.push(side),
    rejected: (_s, reason) => counts.rejected.push(reason),
  };
  const engine = new IndicatorEngine({
    indicators: DEFAULT_INDICATOR_CONFIG,
    historyPoints,
    logger,
    metrics,
  });
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  return { engine, events, counts };
}

describe('IndicatorEngine', () => {
  it('gives final points for closed candles equal to a fresh IndicatorSet, and provisional ones for open candles', () => {
    const { engine, events } = setup();
    const reference = new IndicatorSet(DEFAULT_INDICATOR_CONFIG);
    for (let i = 0; i < 40; i++) {
      engine.onCandle(STREAM, walkCandle(i, false));
      engine.onCandle(STREAM, walkCandle(i, true));
      reference.addClosed(walkCandle(i, true));
    }
    const indicators = events.flatMap((e) => (e.type === 'indicator' ? [e.message] : []));
    expect(indicators).toHaveLength(80);
    for (const m of indicators) expect(indicatorMessageSchema.safeParse(m).success).toBe(true);
    expect(indicators.map((m) => m.final)).toEqual(Array.from({ length: 80 }, (_, k) => k % 2 === 1));
    const last = indicators.at(-1);
    const ref = reference.getLastPoint();
    expect(last).toMatchObject({
      stream: STREAM,
      symbol: 'BTCUSDT',
      interval: '1m',
      exchange: 'binance-sim',
    });
    expect(last?.ema).toBe(ref?.ema);
    expect(last?.atr).toBe(ref?.atr);
    expect(last?.vwap).toBe(ref?.vwap);
    expect(last?.stretch).toBe(ref?.stretch);
    expect(last?.vwapBands).toEqual({
      '1': [ref?.vwapBands?.[0]?.lower, ref?.vwapBands?.[0]?.upper],
      '2': [ref?.vwapBands?.[1]?.lower, ref?.vwapBands?.[1]?.upper],
    });
    expect(engine.history(STREAM, 1_000)).toHaveLength(40);
  });

  it('counts and logs refused candles instead of throwing, leaving the state unchanged', () => {
    const { engine, counts } = setup();
    for (const c of walk(0, 10)) engine.onCandle(STREAM, c);
    const before = engine.history(STREAM, 100);
    engine.onCandle(STREAM, walkCandle(9)); // duplicate after a resume
    engine.onCandle(STREAM, walkCandle(3)); // out of order
    engine.onCandle(STREAM, { ...walkCandle(10), close: Number.NaN });
    engine.onCandle(STREAM, { ...walkCandle(10), symbol: 'ETHUSDT' });
    expect(counts.rejected).toEqual(['duplicate', 'out-of-order', 'invalid-candle', 'stream-mismatch']);
    expect(engine.history(STREAM, 100)).toEqual(before);
    expect(engine.lastClosedOpenTimeMs(STREAM)).toBe(walkCandle(9).openTimeMs);
  });

  it('keeps a bounded history of final points', () => {
    const { engine } = setup(25);
    for (const c of walk(0, 60)) engine.onCandle(STREAM, c);
    const points = engine.history(STREAM, 1_000) ?? [];
    expect(points).toHaveLength(25);
    expect(points[0]?.openTimeMs).toBe(walkCandle(35).openTimeMs);
    expect(engine.finalCount(STREAM)).toBe(60);
    const snapshot = engine.snapshot(STREAM, 10);
    expect(snapshotMessageSchema.parse(snapshot).points.map((p) => p.openTimeMs)).toEqual(
      walk(50, 10).map((c) => c.openTimeMs),
    );
  });

  it('commits warm-up candles without emitting messages, then announces the loaded history', () => {
    const { engine, events } = setup();
    for (const c of walk(0, 30)) engine.onCandle(STREAM, c, true);
    engine.historyLoaded(STREAM);
    expect(events.map((e) => e.type)).toEqual(['stream-added', 'history-loaded']);
    expect(engine.history(STREAM, 100)).toHaveLength(30);
  });

  it('fires an overbought then an oversold signal on the rubberband scenario, on closed candles only', () => {
    const { engine, events, counts } = setup();
    const scenario = rubberbandScenario();
    for (const c of scenario) {
      // The open update of each candle shows where it is heading; it never fires a signal message.
      engine.onCandle(STREAM, { ...c, closed: false });
      engine.onCandle(STREAM, c);
    }
    const signals = events.flatMap((e) => (e.type === 'signal' ? [e.message] : []));
    for (const s of signals) expect(signalMessageSchema.safeParse(s).success).toBe(true);
    expect(signals.map((s) => s.side)).toEqual(['overbought', 'oversold']);
    expect(counts.signals).toEqual(['overbought', 'oversold']);
    const [up, down] = signals;
    expect(up?.openTimeMs).toBe(scenario[30]?.openTimeMs);
    expect(up?.close).toBe(104);
    expect(up && up.stretch >= 2 && up.close > up.vwap).toBe(true);
    expect(down?.openTimeMs).toBe(scenario[46]?.openTimeMs);
    expect(down && down.stretch <= -2 && down.close < down.vwap).toBe(true);
    // The provisional point of the spike already showed the signal it would fire.
    const spikeOpen = events.find(
      (e) => e.type === 'indicator' && !e.message.final && e.message.openTimeMs === scenario[30]?.openTimeMs,
    );
    expect(spikeOpen?.type === 'indicator' && spikeOpen.message.signal).toBe('overbought');
    const finals = events.flatMap((e) =>
      e.type === 'indicator' && e.message.final ? [e.message.signal] : [],
    );
    expect(finals.filter((s) => s !== 'none')).toEqual(['overbought', 'oversold']);
  });

  it('rejects invalid indicator parameters at construction', () => {
    expect(
      () =>
        new IndicatorEngine({
          indicators: { ...DEFAULT_INDICATOR_CONFIG, emaPeriod: 0 },
          historyPoints: 10,
          logger,
        }),
    ).toThrow(RangeError);
  });
});
