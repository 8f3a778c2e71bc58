/**
 * What a chaos run checks at the end, every client against the exchange's ground truth:
 *
 * - gRPC `closed_only` candles: the series received, across every resume, is the exchange's closed
 *   candles from the first received to the last, each once, in order, field for field. A hole is
 *   allowed only where data-ingest reported the range unfilled (`GAP_UNFILLED`): reported, not lost.
 * - Trades: within each `StreamTrades` session, ids rise by one and every trade equals the
 *   exchange's; a hole is allowed only where data-ingest reported the id range unfilled. Between
 *   sessions (data-ingest restarted, or, under a load burst only, the client fell behind and was
 *   cut off with RESOURCE_EXHAUSTED; the call has no resume point) none is doubled, and the ids
 *   skipped are counted as `notServedAcrossRestarts`.
 * - The Binance WebSocket client: its series (live frames plus `/api/v3/klines` after each
 *   reconnect) is complete and equal to the exchange's rows; live frames in one connection never
 *   go back.
 * - Indicators: trading-algo's `/api/indicators` (its whole kept history) and the points the `/ws`
 *   client holds equal, bit for bit, those of an engine fed the exchange's true candles with no
 *   fault at all (the values are fixed by the calendar, so any origin gives the same).
 * - trading-algo itself, over every process of the run (from their logs): no candle rejected by
 *   the indicator state (a duplicate or out of order) and no hole in its feed.
 */
import type { WireIndicatorPoint } from '@visualgo/contracts';
import { indicatorHistoryResponseSchema } from '@visualgo/contracts';
import type { Candle } from '@visualgo/market';
import { IndicatorEngine, indicatorConfigOf, loadAlgoConfig } from '@visualgo/trading-algo';
import { pino } from 'pino';
import type {
  AlgoWsClient,
  BinanceWsClient,
  GrpcCandleClient,
  GrpcStatusClient,
  GrpcTradeClient,
  TradeRecord,
} from './clients.js';
import { type ChaosStack, KLINE_STREAM, SYMBOL, TRADE_STREAM } from './stack.js';

const MINUTE = 60_000;

export interface Verification {
  readonly candles: {
    readonly checked: number;
    readonly lost: number;
    readonly doubled: number;
    readonly wrong: number;
    readonly reportedUnfilled: number;
  };
  readonly trades: {
    readonly checked: number;
    readonly lost: number;
    readonly doubled: number;
    readonly wrong: number;
    readonly reportedUnfilled: number;
    readonly notServedAcrossRestarts: number;
    /** Sessions data-ingest ended with RESOURCE_EXHAUSTED because the client fell behind (load only). */
    readonly cutOffAsSlow: number;
    readonly sessions: number;
  };
  readonly binanceWs: {
    readonly checked: number;
    readonly lost: number;
    readonly wrong: number;
    readonly outOfOrder: number;
    readonly invalid: number;
  };
  readonly indicators: {
    readonly served: number;
    readonly wsPoints: number;
    readonly different: number;
    readonly wsLost: number;
    readonly wsBreaks: number;
    readonly invalid: number;
  };
  readonly algo: { readonly rejectedCandles: number; readonly feedHoles: number; readonly processes: number };
  readonly ingestProcesses: number;
  /** Human-readable problems; empty when the run is clean. */
  readonly problems: readonly string[];
}

/** Keys sorted at every level, so two points compare by value; numbers print exactly (shortest round trip). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Bit for bit: every field, every number exactly equal. */
function samePoint(a: WireIndicatorPoint, b: WireIndicatorPoint): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function candleFields(c: Candle): unknown[] {
  return [c.openTimeMs, c.closeTimeMs, c.open, c.high, c.low, c.close, c.volume, c.quoteVolume, c.trades];
}

function inReported(t: number, gaps: readonly { from: number; to: number }[]): boolean {
  return gaps.some((g) => t >= g.from && t <= g.to);
}

/** Every trade the exchange made in [fromId, toId], by id. */
function truthTrades(stack: ChaosStack, fromTimeMs: number, toId: number): Map<number, TradeRecord> {
  const out = new Map<number, TradeRecord>();
  let start = fromTimeMs;
  for (;;) {
    const page = stack.sim.truth.trades(SYMBOL, { startTimeMs: start, limit: 100_000 });
    for (const t of page) out.set(t.tradeId, t);
    const last = page.at(-1);
    if (!last || page.length < 100_000 || last.tradeId >= toId) return out;
    start = last.tradeTimeMs;
  }
}

export async function verify(input: {
  stack: ChaosStack;
  grpc: GrpcCandleClient;
  trades: GrpcTradeClient;
  status: GrpcStatusClient;
  binance: BinanceWsClient;
  algo: AlgoWsClient;
  killed: number;
  /** Scenarios during which a client may fall behind and be cut off as slow. */
  loadScenarios: ReadonlySet<string>;
}): Promise<Verification> {
  const { stack, grpc, trades, status, binance, algo } = input;
  const problems: string[] = [];
  const klineGaps = status.unfilled
    .filter((g) => g.stream === KLINE_STREAM)
    .map((g) => ({ from: g.fromOpenTimeMs, to: g.toOpenTimeMs }));
  const tradeGaps = status.unfilled
    .filter((g) => g.stream === TRADE_STREAM)
    .map((g) => ({ from: g.fromTradeId, to: g.toTradeId }));

  // gRPC candles.
  const first = grpc.received[0];
  const last = grpc.received.at(-1);
  if (!first || !last) throw new Error('the gRPC client received no candle');
  const truth = stack.sim.truth.candles(KLINE_STREAM, {
    startTimeMs: first.openTimeMs,
    endTimeMs: last.openTimeMs,
  });
  const truthByOpen = new Map(truth.map((c) => [c.openTimeMs, c]));
  const candles = { checked: 0, lost: 0, doubled: 0, wrong: 0, reportedUnfilled: 0 };
  let prev: number | null = null;
  for (const c of grpc.received) {
    if (prev !== null && c.openTimeMs <= prev) {
      candles.doubled++;
      if (candles.doubled <= 5) problems.push(`gRPC candle ${c.openTimeMs} again after ${prev}`);
      continue;
    }
    if (prev !== null) {
      for (let t = prev + MINUTE; t < c.openTimeMs; t += MINUTE) {
        if (inReported(t, klineGaps)) candles.reportedUnfilled++;
        else {
          candles.lost++;
          if (candles.lost <= 5) problems.push(`gRPC candle ${t} missing`);
        }
      }
    }
    prev = c.openTimeMs;
    candles.checked++;
    const want = truthByOpen.get(c.openTimeMs);
    if (!want || JSON.stringify(candleFields(c)) !== JSON.stringify(candleFields(want))) {
      candles.wrong++;
      if (candles.wrong <= 5) problems.push(`gRPC candle ${c.openTimeMs} differs from the exchange's`);
    }
  }

  // Trades.
  const tradeStats = {
    checked: 0,
    lost: 0,
    doubled: 0,
    wrong: 0,
    reportedUnfilled: 0,
    notServedAcrossRestarts: 0,
    cutOffAsSlow: trades.endedWith.filter((e) => e?.startsWith('RESOURCE_EXHAUSTED')).length,
    sessions: trades.bySession.filter((s) => s.length > 0).length,
    sessionEnds: trades.bySession.flatMap((s, i) => (s.length > 0 ? [trades.endedWith[i] ?? 'open'] : [])),
  };
  const all = trades.bySession.flat();
  const firstTrade = all[0];
  const lastTrade = all.reduce((m, t) => Math.max(m, t.tradeId), 0);
  if (!firstTrade) throw new Error('the trade client received no trade');
  const tradeTruth = truthTrades(stack, firstTrade.tradeTimeMs, lastTrade);
  let prevId: number | null = null;
  for (const session of trades.bySession) {
    let inSession = false;
    for (const t of session) {
      if (prevId !== null && t.tradeId <= prevId) {
        tradeStats.doubled++;
        if (tradeStats.doubled <= 5) problems.push(`trade ${t.tradeId} again after ${prevId}`);
        continue;
      }
      if (prevId !== null) {
        for (let id = prevId + 1; id < t.tradeId; id++) {
          if (inReported(id, tradeGaps)) tradeStats.reportedUnfilled++;
          else if (!inSession) tradeStats.notServedAcrossRestarts++;
          else {
            tradeStats.lost++;
            if (tradeStats.lost <= 5) problems.push(`trade ${id} missing`);
          }
        }
      }
      prevId = t.tradeId;
      inSession = true;
      tradeStats.checked++;
      const want = tradeTruth.get(t.tradeId);
      if (
        !want ||
        want.price !== t.price ||
        want.quantity !== t.quantity ||
        want.tradeTimeMs !== t.tradeTimeMs ||
        want.buyerIsMaker !== t.buyerIsMaker
      ) {
        tradeStats.wrong++;
        if (tradeStats.wrong <= 5) problems.push(`trade ${t.tradeId} differs from the exchange's`);
      }
    }
  }
  // A session may end because data-ingest went away (UNAVAILABLE), or, under a load burst, because
  // the client fell behind and was cut off (RESOURCE_EXHAUSTED: said, not silent).
  trades.endedWith.forEach((end, i) => {
    if (end === null || /^(UNAVAILABLE|CANCELLED|end)/.test(end)) return;
    const during = trades.endedDuring[i] ?? '?';
    if (end.startsWith('RESOURCE_EXHAUSTED') && input.loadScenarios.has(during)) return;
    problems.push(`a trade session ended with ${end} during ${during}`);
  });
  if (input.killed === 0 && tradeStats.cutOffAsSlow === 0 && tradeStats.notServedAcrossRestarts > 0) {
    problems.push(
      `${tradeStats.notServedAcrossRestarts} trades not served between sessions, with no restart`,
    );
  }

  // The Binance WebSocket client.
  const bFirst = Math.min(...binance.series.keys());
  const bLast = Math.max(...binance.series.keys());
  const rows = new Map(
    stack.sim.truth.klineRows(KLINE_STREAM, { startTimeMs: bFirst, endTimeMs: bLast }).map((r) => [r[0], r]),
  );
  const binanceStats = {
    checked: 0,
    lost: 0,
    wrong: 0,
    outOfOrder: binance.liveOutOfOrder,
    invalid: binance.invalid.length,
  };
  for (let t = bFirst; t <= bLast; t += MINUTE) {
    const got = binance.series.get(t);
    if (!got) {
      if (inReported(t, klineGaps)) continue;
      binanceStats.lost++;
      if (binanceStats.lost <= 5) problems.push(`Binance WebSocket client: candle ${t} missing`);
      continue;
    }
    binanceStats.checked++;
    const r = rows.get(t);
    const want = r ? [r[1], r[2], r[3], r[4], r[5], r[7]].map(String) : null;
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      binanceStats.wrong++;
      if (binanceStats.wrong <= 5)
        problems.push(`Binance WebSocket client: candle ${t} differs from the exchange's`);
    }
  }
  if (binanceStats.outOfOrder > 0)
    problems.push(`Binance WebSocket client: ${binanceStats.outOfOrder} frames out of order`);
  if (binanceStats.invalid > 0)
    problems.push(`Binance WebSocket client: invalid frames ${binance.invalid.slice(0, 3)}`);

  // Indicators, against an engine fed the true candles with no fault.
  const { historyPoints } = stack.options;
  const res = await fetch(
    `${stack.algoHttpUrl}/api/indicators?stream=${encodeURIComponent(KLINE_STREAM)}&limit=${historyPoints}`,
  );
  const served = indicatorHistoryResponseSchema.parse(await res.json()).points;
  const wsFirst = Math.min(...algo.points.keys());
  const lastClosed = last.openTimeMs;
  const span = Math.max(served.length, (lastClosed - wsFirst) / MINUTE + 1);
  const config = loadAlgoConfig({});
  const reference = new IndicatorEngine({
    indicators: indicatorConfigOf(config),
    historyPoints: span,
    logger: pino({ level: 'silent' }),
  });
  const info = {
    stream: KLINE_STREAM,
    exchange: first.exchange,
    symbol: first.symbol,
    interval: first.interval,
  };
  reference.declareStreams([info]);
  const from = reference.warmupFromMs(info, lastClosed);
  for (let t = from; t <= lastClosed; t += 10_000 * MINUTE) {
    const chunk = stack.sim.truth.candles(KLINE_STREAM, {
      startTimeMs: t,
      endTimeMs: Math.min(lastClosed, t + 10_000 * MINUTE - 1),
    });
    for (const c of chunk) reference.onCandle(KLINE_STREAM, c, true);
  }
  reference.historyLoaded(KLINE_STREAM);
  const refPoints = new Map((reference.history(KLINE_STREAM, span) ?? []).map((p) => [p.openTimeMs, p]));
  const indicators = {
    served: served.length,
    wsPoints: algo.points.size,
    different: 0,
    wsLost: 0,
    wsBreaks: algo.liveBreaks,
    invalid: algo.invalid.length,
  };
  if (served.at(-1)?.openTimeMs !== lastClosed)
    problems.push(`/api/indicators ends at ${served.at(-1)?.openTimeMs}, not ${lastClosed}`);
  for (const p of served) {
    const want = refPoints.get(p.openTimeMs);
    if (!want || !samePoint(p, want)) {
      indicators.different++;
      if (indicators.different <= 5)
        problems.push(`/api/indicators point ${p.openTimeMs} differs from a fault-free run`);
    }
  }
  for (let t = wsFirst; t <= lastClosed; t += MINUTE) {
    const p = algo.points.get(t);
    if (!p) {
      if (inReported(t, klineGaps)) continue;
      indicators.wsLost++;
      if (indicators.wsLost <= 5) problems.push(`trading-algo /ws client: point ${t} missing`);
      continue;
    }
    const want = refPoints.get(t);
    if (!want || !samePoint(p, want)) {
      indicators.different++;
      if (indicators.different <= 5)
        problems.push(`trading-algo /ws client: point ${t} differs from a fault-free run`);
    }
  }
  if (indicators.wsBreaks > 0)
    problems.push(`trading-algo /ws client: ${indicators.wsBreaks} breaks within a connection`);
  if (indicators.invalid > 0)
    problems.push(`trading-algo /ws client: invalid messages ${algo.invalid.slice(0, 3)}`);

  // trading-algo's own account, over all its processes.
  const algoProcs = stack.started.filter((p) => p.name === 'trading-algo');
  const count = (msg: string) =>
    algoProcs.reduce((n, p) => n + p.logs.filter((l) => l.msg === msg).length, 0);
  const algoStats = {
    rejectedCandles: count('candle rejected by indicator state'),
    feedHoles: count('closed candles missing from the feed'),
    processes: algoProcs.length,
  };
  if (algoStats.rejectedCandles > 0)
    problems.push(
      `trading-algo rejected candles (duplicate or out of order) ${algoStats.rejectedCandles} times`,
    );
  if (algoStats.feedHoles > 0 && klineGaps.length === 0)
    problems.push(`trading-algo saw ${algoStats.feedHoles} holes in its feed`);
  return {
    candles,
    trades: tradeStats,
    binanceWs: binanceStats,
    indicators,
    algo: algoStats,
    ingestProcesses: stack.started.filter((p) => p.name === 'data-ingest').length,
    problems,
  };
}
