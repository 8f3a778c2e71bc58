/**
 * The chaos scenarios: each injects one kind of fault into the running stack, waits until it is
 * over, and leaves the checking to the run (every client against the exchange's ground truth, at
 * the end). `proves` is what the run's final checks show for it; docs/reliability.md lists them.
 */
import { MALFORMED_KINDS } from '@visualgo/sim-exchange';
import type { ChaosStack, ProcessMemory } from './stack.js';

export type ScenarioKind = 'upstream' | 'process' | 'load';

export interface ScenarioContext {
  readonly stack: ChaosStack;
  /** Uniform in [0, 1), from the run's seed. */
  readonly random: () => number;
  /** Longest fault (stall, refusal) in wall ms; the CI subset keeps them short. */
  readonly maxFaultMs: number;
  /** How long the load burst lasts, in wall ms. */
  readonly burstMs: number;
  log(message: string, fields?: Record<string, unknown>): void;
  /** Memory samples of the burst, for the report. */
  readonly memory: MemorySample[];
}

export interface MemorySample {
  readonly atMs: number;
  /** `soak`: the run's periodic sample; the others: around a load burst. */
  readonly phase: 'soak' | 'before' | 'burst' | 'after';
  readonly ingest: ProcessMemory | null;
  readonly algo: ProcessMemory | null;
}

export interface Scenario {
  readonly name: string;
  readonly kind: ScenarioKind;
  readonly proves: string;
  /** Injects the fault; resolves once it is over. Returns the faults it injected that the exchange does not count itself (kills, bursts). */
  run(ctx: ScenarioContext): Promise<number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** After a burst, each service's heap in use comes back within this of its figure before it. */
export const HEAP_BACK_WITHIN_BYTES = 64 * 1024 * 1024;
/**
 * How long after a burst the heap may take to come back: collections run when the runtime sees
 * fit, later on a loaded machine, so the check waits for the condition rather than a fixed window.
 */
const HEAP_BACK_DEADLINE_MS = 60_000;

/**
 * Whether each service's heap in use was back within `HEAP_BACK_WITHIN_BYTES` of `before` in one
 * of the samples `after` (its low point: the heap goes up and down with collections). A service
 * with no figure before is not waited for (the run's check reports it).
 */
export function heapBack(before: MemorySample, after: readonly MemorySample[]): boolean {
  return (['ingest', 'algo'] as const).every((which) => {
    const base = before[which];
    if (base === null) return true;
    const low = Math.min(...after.map((m) => m[which]?.heapUsedBytes ?? Number.POSITIVE_INFINITY));
    return low < base.heapUsedBytes + HEAP_BACK_WITHIN_BYTES;
  });
}
const between = (ctx: ScenarioContext, lo: number, hi: number) => Math.round(lo + ctx.random() * (hi - lo));
const pick = <T>(ctx: ScenarioContext, items: readonly T[]): T =>
  items[Math.floor(ctx.random() * items.length)] as T;

/**
 * `kill -9` of the services named, at a random point, then each started again in the order given,
 * a moment apart; resolves once all are ready (trading-algo is ready only once data-ingest is, so
 * they are not waited for one by one).
 */
async function killAndRestart(ctx: ScenarioContext, order: readonly ('ingest' | 'algo')[]): Promise<number> {
  const { stack } = ctx;
  await sleep(between(ctx, 0, 1_000));
  await Promise.all(order.map((which) => (which === 'ingest' ? stack.ingest : stack.algo)?.kill9()));
  const ready: Promise<void>[] = [];
  for (const which of order) {
    await sleep(between(ctx, 100, 1_500));
    ready.push(which === 'ingest' ? stack.startIngest() : stack.startAlgo());
  }
  await Promise.all(ready);
  return order.length;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'drop-close-frame',
    kind: 'upstream',
    proves:
      'a dropped exchange connection (close frame 1001) is reconnected and the candles and trades it missed are filled from REST',
    run: async ({ stack }) => {
      stack.sim.dropConnections({ closeFrame: true });
      return 0;
    },
  },
  {
    name: 'drop-no-close-frame',
    kind: 'upstream',
    proves: 'a connection cut without a close frame (the client sees 1006) is treated the same',
    run: async ({ stack }) => {
      stack.sim.dropConnections({ closeFrame: false });
      return 0;
    },
  },
  {
    name: 'stall',
    kind: 'upstream',
    proves:
      'a connection that stays open but sends nothing (no data, no pings) is detected as stale, replaced, and its hole filled',
    run: async (ctx) => {
      const ms = between(ctx, 1_500, Math.max(1_500, Math.min(ctx.maxFaultMs, 8_000)));
      ctx.stack.sim.stallConnections({ durationMs: ms });
      await sleep(ms);
      return 0;
    },
  },
  {
    name: 'malformed-frames',
    kind: 'upstream',
    proves:
      'invalid JSON, truncated, unknown-event, missing-field, wrong-type, binary and empty frames are counted and dropped; the connection goes on',
    run: async ({ stack }) => {
      for (const kind of MALFORMED_KINDS) stack.sim.sendMalformed(kind);
      return 0;
    },
  },
  {
    name: 'server-shutdown',
    kind: 'upstream',
    proves:
      "the exchange's serverShutdown event is answered make-before-break, with nothing lost or doubled across the switch",
    run: async (ctx) => {
      const closeAfterMs = between(ctx, 200, 1_500);
      ctx.stack.sim.serverShutdown({ closeAfterMs });
      await sleep(closeAfterMs);
      return 0;
    },
  },
  {
    name: 'rest-errors',
    kind: 'upstream',
    proves:
      'gap fills get through REST 429 (Retry-After), 418 bans, 500s, resets and requests that never answer',
    run: async (ctx) => {
      const { sim } = ctx.stack;
      const modes = ['429', '418', '500', '503', 'reset', 'timeout'] as const;
      for (let i = 0; i < 3; i++) {
        const mode = pick(ctx, modes);
        sim.injectRestFault({ mode, count: between(ctx, 1, 3), pathPrefix: '/api/v3/', retryAfterSec: 1 });
      }
      // Cut the stream so that the hole must be filled through the faulty REST.
      sim.dropConnections({ closeFrame: false });
      return 0;
    },
  },
  {
    name: 'refused-connections',
    kind: 'upstream',
    proves:
      'while the exchange refuses new connections (HTTP 503, reset, or its port closed, REST too), data-ingest backs off and retries; once it accepts again, the whole hole is filled',
    run: async (ctx) => {
      const { sim } = ctx.stack;
      const ms = between(ctx, 2_000, Math.max(2_000, ctx.maxFaultMs));
      const mode = pick(ctx, ['http-503', 'reset', 'unlisten'] as const);
      ctx.log('refusing', { mode, ms });
      await sim.refuseConnections({ mode, durationMs: ms });
      sim.dropConnections({ closeFrame: false });
      await sleep(ms);
      // `durationMs` ends the refusal by itself; make sure before going on.
      if (sim.status().refusing !== null) await sim.acceptConnections();
      return 0;
    },
  },
  {
    name: 'clock-jump',
    kind: 'upstream',
    proves:
      "a jump of the exchange's clock (minutes of market at once) is taken in order, every candle in between once",
    run: async (ctx) => {
      const minutes = between(ctx, 5, 30);
      ctx.log('jumping', { minutes });
      ctx.stack.sim.jumpClock(minutes * 60_000);
      return 0;
    },
  },
  {
    name: 'kill-ingest',
    kind: 'process',
    proves:
      'kill -9 of data-ingest at a random point: restarted, it loads its history again; trading-algo and the gRPC client resume from their last candle, browsers from REST',
    run: (ctx) => killAndRestart(ctx, ['ingest']),
  },
  {
    name: 'kill-algo',
    kind: 'process',
    proves:
      'kill -9 of trading-algo: restarted, it warms up again and serves the same values bit for bit; its browsers get them back in the snapshot',
    run: (ctx) => killAndRestart(ctx, ['algo']),
  },
  {
    name: 'kill-both',
    kind: 'process',
    proves: 'kill -9 of both at once, restarted in a random order: the same',
    run: (ctx) => killAndRestart(ctx, ctx.random() < 0.5 ? ['ingest', 'algo'] : ['algo', 'ingest']),
  },
  {
    name: 'burst-10x',
    kind: 'load',
    proves:
      'ten times the market rate for a while: memory stays bounded and comes back, and clients that keep up lose nothing',
    run: async (ctx) => {
      const { stack } = ctx;
      const sample = async (phase: MemorySample['phase']): Promise<MemorySample> => {
        const m = {
          atMs: Date.now(),
          phase,
          ingest: await stack.memory('ingest'),
          algo: await stack.memory('algo'),
        };
        ctx.memory.push(m);
        return m;
      };
      const before = await sample('before');
      // Samples are taken every second whatever a scrape costs (on a loaded machine one can take
      // longer than a second), and awaited at the end.
      const pending: Promise<unknown>[] = [];
      const every = (phase: MemorySample['phase']) => setInterval(() => pending.push(sample(phase)), 1_000);
      const speed = stack.options.speed;
      stack.sim.setSpeed(speed * 10);
      let timer = every('burst');
      try {
        await sleep(ctx.burstMs);
      } finally {
        clearInterval(timer);
        stack.sim.setSpeed(speed);
      }
      // Afterwards: memory as the services settle back to the normal rate, for a while, and on
      // until both heaps are back (or the deadline: the run's check then fails with these samples).
      const afterMs = Date.now();
      timer = every('after');
      await sleep(Math.max(5_000, ctx.burstMs / 2));
      const after = () => ctx.memory.filter((m) => m.phase === 'after' && m.atMs >= afterMs);
      while (!heapBack(before, after()) && Date.now() - afterMs < HEAP_BACK_DEADLINE_MS) await sleep(250);
      clearInterval(timer);
      await Promise.all(pending);
      ctx.log(heapBack(before, after()) ? 'heap back after the burst' : 'heap not back after the burst', {
        ms: Date.now() - afterMs,
        samples: after().length,
      });
      ctx.memory.sort((a, b) => a.atMs - b.atMs);
      return 1; // one burst
    },
  },
];

export function scenarioNamed(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s)
    throw new Error(`no scenario ${JSON.stringify(name)}; known: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}
