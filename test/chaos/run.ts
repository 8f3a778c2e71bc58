/**
 * A chaos run: start the stack and the clients, play scenarios (a fixed list, or a seeded random
 * mix for a while), then stop the market, let every client catch up to the exchange's last closed
 * candle, and compare what each one holds with the ground truth. `npm run chaos` and the CI subset
 * (chaos.e2e.test.ts) both run this.
 */
import {
  AlgoWsClient,
  BinanceWsClient,
  GrpcCandleClient,
  GrpcStatusClient,
  GrpcTradeClient,
  SharedChannel,
} from './clients.js';
import { type MemorySample, SCENARIOS, type Scenario, type ScenarioContext } from './scenarios.js';
import { ChaosStack, KLINE_STREAM, SYMBOL, TRADE_STREAM } from './stack.js';
import { type Verification, verify } from './verify.js';

export interface ChaosOptions {
  readonly seed: string;
  /** Scenarios in order; or, with `durationMs`, drawn at random (seeded) until it is over. */
  readonly scenarios: readonly Scenario[];
  readonly durationMs?: number;
  readonly speed?: number;
  readonly maxFaultMs?: number;
  readonly burstMs?: number;
  /** Closed candles every client must receive after a fault before the next one (default 5). */
  readonly settleCandles?: number;
  /** Memory and handles every this many ms (soak). */
  readonly sampleEveryMs?: number;
  readonly log?: (line: string) => void;
}

export interface ScenarioResult {
  readonly name: string;
  readonly faults: number;
  readonly wallMs: number;
}

export interface ChaosReport {
  readonly seed: string;
  readonly speed: number;
  readonly wallMs: number;
  readonly scenarios: readonly ScenarioResult[];
  readonly faultsInjected: number;
  readonly faultsByKind: Record<string, number>;
  readonly memory: readonly MemorySample[];
  readonly verification: Verification;
}

/** A small seeded generator (mulberry32 over an FNV-1a hash of the seed). */
export function seededRandom(seed: string): () => number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function until(
  what: string,
  check: () => boolean,
  timeoutMs: number,
  detail: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${detail()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function faultCounts(stack: ChaosStack): Promise<Record<string, number>> {
  const text = await stack.sim.metrics.getSingleMetricAsString('sim_faults_injected_total');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/kind="([^"]+)"[^}]*\} (\d+)/g)) out[m[1] as string] = Number(m[2]);
  return out;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const speed = options.speed ?? 600;
  const random = seededRandom(options.seed);
  const started = Date.now();
  const stack = await ChaosStack.start({
    seed: options.seed,
    speed,
    // 20:00 UTC: at 600x the run crosses midnight (a new VWAP day) after about 24 s.
    startMs: Date.UTC(2025, 0, 15, 20, 0),
    historyPoints: 3_000,
    snapshotPoints: 1_000,
  });
  // A channel (one HTTP/2 connection) per client, as separate programs would have: a trade stream
  // that falls behind does not hold the candles up behind it.
  const channels = [1, 2, 3].map(() => new SharedChannel(stack.grpcTarget));
  const [candleChannel, tradeChannel, statusChannel] = channels as [
    SharedChannel,
    SharedChannel,
    SharedChannel,
  ];
  const grpc = new GrpcCandleClient(candleChannel, KLINE_STREAM);
  const trades = new GrpcTradeClient(tradeChannel, TRADE_STREAM);
  const status = new GrpcStatusClient(statusChannel);
  const binance = new BinanceWsClient(() => stack.ingestHttpUrl, KLINE_STREAM, SYMBOL);
  const algo = new AlgoWsClient(() => stack.algoWsUrl, KLINE_STREAM);
  const clients = [grpc, trades, status, binance, algo];
  const memory: MemorySample[] = [];
  const results: ScenarioResult[] = [];
  let killed = 0;
  let bursts = 0;
  const faultsBefore = await faultCounts(stack);
  const describeClients = () =>
    JSON.stringify({
      grpc: grpc.last?.openTimeMs,
      binance: binance.lastOpenTimeMs,
      algo: algo.lastOpenTimeMs,
      trades: trades.count,
      tradeSessionsCut: trades.endedWith.filter((e) => e?.startsWith('RESOURCE_EXHAUSTED')).length,
      market: stack.sim.marketNowMs(),
    });
  /** Every kline client has `n` more closed candles than the gRPC client had when called. */
  const settle = async (n: number) => {
    const target = (grpc.last?.openTimeMs ?? 0) + n * 60_000;
    await until(
      `${n} more candles at every client`,
      () =>
        (grpc.last?.openTimeMs ?? 0) >= target &&
        (binance.lastOpenTimeMs ?? 0) >= target &&
        (algo.lastOpenTimeMs ?? 0) >= target,
      90_000,
      describeClients,
    );
  };

  let sampler: NodeJS.Timeout | null = null;
  try {
    for (const c of [status, grpc, trades, binance, algo]) c.start();
    await settle(5);
    if (options.sampleEveryMs) {
      const sample = async () =>
        memory.push({
          atMs: Date.now(),
          phase: 'soak',
          ingest: await stack.memory('ingest'),
          algo: await stack.memory('algo'),
        });
      await sample();
      sampler = setInterval(() => void sample(), options.sampleEveryMs);
    }
    const ctx: ScenarioContext = {
      stack,
      random,
      maxFaultMs: options.maxFaultMs ?? 4_000,
      burstMs: options.burstMs ?? 30_000,
      memory,
      log: (message, fields) => log(`  ${message} ${fields ? JSON.stringify(fields) : ''}`),
    };
    const playOne = async (scenario: Scenario) => {
      const t0 = Date.now();
      const before = await faultCounts(stack);
      // An upstream fault needs a connection to hit: data-ingest may still be reconnecting after
      // the previous one (candles can flow from its gap fills before that).
      if (scenario.kind === 'upstream') await stack.sim.waitForConnections(1, 60_000);
      log(`scenario ${scenario.name}`);
      trades.phase = scenario.name;
      const kills = await scenario.run(ctx);
      if (scenario.kind === 'load') bursts += kills;
      else killed += kills;
      await settle(options.settleCandles ?? 5);
      stack.sim.clearRestFaults();
      const after = await faultCounts(stack);
      const faults = kills + Object.keys(after).reduce((n, k) => n + (after[k] ?? 0) - (before[k] ?? 0), 0);
      results.push({ name: scenario.name, faults, wallMs: Date.now() - t0 });
      log(`  done: ${faults} faults in ${Date.now() - t0} ms; clients ${describeClients()}`);
    };
    if (options.durationMs === undefined) {
      for (const scenario of options.scenarios) await playOne(scenario);
    } else {
      const end = Date.now() + options.durationMs;
      while (Date.now() < end) {
        const pool = options.scenarios.length > 0 ? options.scenarios : SCENARIOS;
        await playOne(pool[Math.floor(random() * pool.length)] as Scenario);
      }
    }
    if (sampler) clearInterval(sampler);
    sampler = null;

    // Stop the market and let everything reach its last closed candle.
    stack.sim.pauseMarket();
    const lastClosed =
      stack.sim.truth.candles(KLINE_STREAM, { startTimeMs: grpc.last?.openTimeMs ?? 0 }).at(-1)?.openTimeMs ??
      0;
    await until(
      'every client at the last closed candle',
      () =>
        grpc.last?.openTimeMs === lastClosed &&
        binance.lastOpenTimeMs === lastClosed &&
        algo.lastOpenTimeMs === lastClosed,
      60_000,
      describeClients,
    );
    // Trades: the last one the exchange has sent, at the client.
    const lastTrade = stack.sim.truth
      .trades(SYMBOL, { startTimeMs: stack.sim.marketNowMs() - 3_600_000 })
      .at(-1);
    await until(
      'the last trade at the trade client',
      () => trades.bySession.at(-1)?.at(-1)?.tradeId === lastTrade?.tradeId,
      60_000,
      describeClients,
    );
    for (const c of clients) c.stop();
    const loadScenarios = new Set(SCENARIOS.filter((s) => s.kind === 'load').map((s) => s.name));
    const verification = await verify({ stack, grpc, trades, status, binance, algo, killed, loadScenarios });
    const after = await faultCounts(stack);
    const faultsByKind: Record<string, number> = {};
    for (const k of Object.keys(after)) {
      const d = (after[k] ?? 0) - (faultsBefore[k] ?? 0);
      if (d > 0) faultsByKind[k] = d;
    }
    if (killed > 0) faultsByKind['kill-9'] = killed;
    if (bursts > 0) faultsByKind['burst-10x'] = bursts;
    return {
      seed: options.seed,
      speed,
      wallMs: Date.now() - started,
      scenarios: results,
      faultsInjected: Object.values(faultsByKind).reduce((a, b) => a + b, 0),
      faultsByKind,
      memory,
      verification,
    };
  } catch (err) {
    const tail = stack.started
      .map((p) => `--- ${p.name} (pid ${p.pid})\n${p.output.slice(-2_000)}`)
      .join('\n');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail}`);
  } finally {
    if (sampler) clearInterval(sampler);
    for (const c of clients) c.stop();
    for (const c of channels) c.close();
    await stack.close();
  }
}
