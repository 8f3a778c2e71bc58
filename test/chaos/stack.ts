/**
 * The system under a chaos run: the simulated exchange in this process (its handle injects the
 * faults and knows the truth), data-ingest and trading-algo as their own processes (so they can be
 * killed with SIGKILL and started again on the same ports), each watching its lifeline so that
 * none outlives the runner.
 */
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { freePort, ServiceProcess } from '@visualgo/testing';

export const SYMBOL = 'BNBBTC';
export const KLINE_STREAM = 'bnbbtc@kline_1m';
export const TRADE_STREAM = 'bnbbtc@trade';

export interface StackOptions {
  /** Market ms per wall ms (600: a one-minute candle every 100 ms). */
  readonly speed: number;
  /** Where the market starts (a fixed time, so every run covers the same calendar). */
  readonly startMs: number;
  readonly seed: string;
  /** Final points trading-algo keeps and serves (`HISTORY_POINTS`). */
  readonly historyPoints: number;
  /** Points in trading-algo's snapshot on connect (`SNAPSHOT_POINTS`): what a reconnecting browser gets back. */
  readonly snapshotPoints: number;
}

export interface ProcessMemory {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly handles: number;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

export class ChaosStack {
  ingest: ServiceProcess | null = null;
  algo: ServiceProcess | null = null;
  /** Every process started, for the logs of a failing run. */
  readonly started: ServiceProcess[] = [];

  private constructor(
    readonly sim: SimExchange,
    readonly options: StackOptions,
    readonly ports: { readonly grpc: number; readonly ingestHttp: number; readonly algoHttp: number },
  ) {}

  static async start(options: StackOptions): Promise<ChaosStack> {
    const sim = await startSimExchange({
      port: 0,
      seed: options.seed,
      speed: options.speed,
      startMs: options.startMs,
      symbols: [SYMBOL],
      historyDays: 7,
      pingIntervalMs: 1_000,
      pongTimeoutMs: 3_000,
      // The chaos clients and the services share one address: no weight limit in the way.
      restWeightLimit: 1_000_000,
    });
    const ports = { grpc: await freePort(), ingestHttp: await freePort(), algoHttp: await freePort() };
    const stack = new ChaosStack(sim, options, ports);
    try {
      await stack.startIngest();
      await stack.startAlgo();
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  get grpcTarget(): string {
    return `127.0.0.1:${this.ports.grpc}`;
  }

  get ingestHttpUrl(): string {
    return `http://127.0.0.1:${this.ports.ingestHttp}`;
  }

  get algoHttpUrl(): string {
    return `http://127.0.0.1:${this.ports.algoHttp}`;
  }

  get algoWsUrl(): string {
    return `ws://127.0.0.1:${this.ports.algoHttp}/ws`;
  }

  /** Starts data-ingest; resolves once it is ready. */
  async startIngest(): Promise<void> {
    const proc = new ServiceProcess('data-ingest', 'services/data-ingest/src/main.ts', {
      MARKET_SOURCE: 'sim',
      SIM_URL: this.sim.httpUrl,
      SYMBOLS: SYMBOL.toLowerCase(),
      INTERVALS: '1m',
      TRADES: 'true',
      HISTORY_CANDLES: '1000',
      INGEST_HOST: '127.0.0.1',
      INGEST_GRPC_PORT: String(this.ports.grpc),
      INGEST_HTTP_PORT: String(this.ports.ingestHttp),
      UPSTREAM_STALE_MS: '1500',
      LOG_LEVEL: 'info',
    });
    this.ingest = proc;
    this.started.push(proc);
    await until(
      'data-ingest ready',
      async () => (await fetch(`${this.ingestHttpUrl}/readyz`)).ok,
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${proc.output.slice(-3_000)}`);
    });
  }

  /** Starts trading-algo; resolves once it is ready (which needs data-ingest up). */
  async startAlgo(): Promise<void> {
    const proc = new ServiceProcess('trading-algo', 'services/trading-algo/src/main.ts', {
      INGEST_GRPC_URL: this.grpcTarget,
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: String(this.ports.algoHttp),
      HISTORY_POINTS: String(this.options.historyPoints),
      SNAPSHOT_POINTS: String(this.options.snapshotPoints),
      WS_MAX_BUFFERED_BYTES: String(16 * 1024 * 1024),
      FEED_RECONNECT_MIN_MS: '50',
      FEED_RECONNECT_MAX_MS: '500',
      LOG_LEVEL: 'info',
    });
    this.algo = proc;
    this.started.push(proc);
    await until(
      'trading-algo ready',
      async () => (await fetch(`${this.algoHttpUrl}/readyz`)).ok,
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${proc.output.slice(-3_000)}`);
    });
  }

  /** RSS, heap in use and open handles of a service, from its own `/metrics`; null when it is down. */
  async memory(which: 'ingest' | 'algo'): Promise<ProcessMemory | null> {
    const url = which === 'ingest' ? this.ingestHttpUrl : this.algoHttpUrl;
    try {
      const text = await (await fetch(`${url}/metrics`)).text();
      return {
        rssBytes: metricValue(text, 'process_resident_memory_bytes'),
        heapUsedBytes: metricValue(text, 'nodejs_heap_size_used_bytes'),
        handles: metricValue(text, 'nodejs_active_handles_total'),
      };
    } catch {
      return null;
    }
  }

  /** One counter or gauge of a service's `/metrics`, summed over its series that contain `labels`. */
  async metric(which: 'ingest' | 'algo', name: string, labels = ''): Promise<number> {
    const url = which === 'ingest' ? this.ingestHttpUrl : this.algoHttpUrl;
    const text = await (await fetch(`${url}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (labels && !line.includes(labels)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  async close(): Promise<void> {
    await Promise.all([this.algo?.stop(), this.ingest?.stop()]);
    await this.sim.close();
  }
}
