/**
 * Test support: a real data-ingest gRPC edge in-process, fed by hand. It imports data-ingest's
 * source by relative path, which only tests may do; the service itself talks to data-ingest over
 * gRPC alone.
 */
import type { Candle } from '@visualgo/market';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { type GrpcEdge, startGrpcEdge } from '../../../data-ingest/src/grpc/grpc-server.js';
import type { HistorySource } from '../../../data-ingest/src/hub/history-source.js';
import { IngestHub } from '../../../data-ingest/src/hub/ingest-hub.js';

const logger = pino({ level: 'silent' });

export interface IngestHarnessOptions {
  /** Kline streams and their closed history, oldest first. */
  readonly streams: Readonly<Record<string, readonly Candle[]>>;
  readonly historyCandles?: number;
  /**
   * The exchange behind the hub fails every history request that reaches this open time or later;
   * before it, it answers that there is nothing. Unset: it never fails and has nothing.
   */
  readonly exchangeFailsFromMs?: number;
}

export class IngestHarness {
  private edge: GrpcEdge | null = null;

  private constructor(
    readonly hub: IngestHub,
    public port: number,
  ) {}

  static async start(options: IngestHarnessOptions): Promise<IngestHarness> {
    const history: HistorySource = {
      latestClosed: async (d, count) =>
        (options.streams[d.stream] ?? []).slice(-count).map((candle) => ({ candle, payload: {} })),
      closedBetween: async (_d, _from, to) => {
        const failsFrom = options.exchangeFailsFromMs;
        if (failsFrom !== undefined && to >= failsFrom) throw new Error('HTTP 502 from the exchange');
        return [];
      },
      tradesBetween: async () => [],
    };
    const descriptors = Object.entries(options.streams).map(([stream, candles]) => {
      const first = candles[0];
      if (!first) throw new Error(`stream ${stream} needs at least one history candle`);
      return { stream, kind: 'kline' as const, symbol: first.symbol, interval: first.interval };
    });
    const hub = new IngestHub({
      exchange: 'binance-sim',
      streams: descriptors,
      historyCandles: options.historyCandles ?? 10_000,
      history,
      logger,
      metrics: new Registry(),
      fillAttempts: 1,
      fillBackoff: { initialMs: 1, maxMs: 1 },
    });
    await hub.loadHistory();
    hub.setConnected(true);
    const harness = new IngestHarness(hub, 0);
    await harness.startEdge();
    return harness;
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  publish(stream: string, candle: Candle): void {
    this.hub.ingestCandle(stream, candle, {});
  }

  /** Starts the gRPC edge, on the port it had before when restarted. */
  async startEdge(): Promise<void> {
    this.edge = await startGrpcEdge({
      hub: this.hub,
      logger,
      metrics: new Registry(),
      host: '127.0.0.1',
      port: this.port,
    });
    this.edge.setServing(true);
    this.port = this.edge.port;
  }

  /** Ends every stream with UNAVAILABLE and stops listening, as a data-ingest shutdown does. */
  async stopEdge(): Promise<void> {
    await this.edge?.close(500);
    this.edge = null;
  }

  async close(): Promise<void> {
    await this.stopEdge();
    await this.hub.stop();
  }
}
