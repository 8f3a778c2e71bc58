/**
 * Test support: a real data-ingest (hub, bus and gRPC edge) in-process, fed by hand, from its
 * workspace package; the service itself talks to data-ingest over gRPC alone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createIngestHub,
  type GrpcEdge,
  type HistorySource,
  type IngestParts,
  startGrpcEdge,
} from '@visualgo/data-ingest';
import { type Candle, parseStreamName, type StreamId } from '@visualgo/market';
import { BearerAuth } from '@visualgo/platform';
import { pino } from 'pino';
import { Registry } from 'prom-client';

const logger = pino({ level: 'silent' });

export interface IngestHarnessOptions {
  /** Kline streams and their closed history, oldest first. */
  readonly streams: Readonly<Record<string, readonly Candle[]>>;
  readonly historyCandles?: number;
  /** Token the gRPC edge requires, as data-ingest's AUTH_TOKEN. */
  readonly authToken?: string;
  /**
   * The exchange behind the hub fails every history request that reaches this open time or later;
   * before it, it answers that there is nothing. Unset: it never fails and has nothing.
   */
  readonly exchangeFailsFromMs?: number;
  /** Closed candles the exchange behind the hub serves for history requests, oldest first. */
  readonly exchangeCandles?: readonly Candle[];
  /**
   * The exchange answers each history request after this long (ms), as data-ingest does when its
   * REST weight budget is spent and it waits for the next minute.
   */
  readonly exchangeDelayMs?: number;
}

export class IngestHarness {
  private edge: GrpcEdge | null = null;

  private constructor(
    readonly ingest: IngestParts,
    public port: number,
    private readonly auth: BearerAuth,
  ) {}

  static async start(options: IngestHarnessOptions): Promise<IngestHarness> {
    const history: HistorySource = {
      latestClosed: async (d, count) =>
        (options.streams[`${d.symbol.toLowerCase()}@kline_${d.interval}`] ?? []).slice(-count),
      closedBetween: async (_d, from, to, signal, limit) => {
        if (options.exchangeDelayMs) await sleep(options.exchangeDelayMs, undefined, { signal });
        const failsFrom = options.exchangeFailsFromMs;
        if (failsFrom !== undefined && to >= failsFrom) throw new Error('HTTP 502 from the exchange');
        const rows = (options.exchangeCandles ?? []).filter(
          (c) => c.openTimeMs >= from && c.openTimeMs <= to,
        );
        return limit === undefined ? rows : rows.slice(0, limit);
      },
      tradesBetween: async () => [],
    };
    const streams = Object.entries(options.streams).map(([stream, candles]): StreamId => {
      const id = parseStreamName(stream);
      if (!id || !candles[0])
        throw new Error(`stream ${stream} needs a name and at least one history candle`);
      return id;
    });
    const ingest = createIngestHub({
      exchange: 'binance-sim',
      streams,
      historyCandles: options.historyCandles ?? 10_000,
      history,
      logger,
      metrics: new Registry(),
      fillAttempts: 1,
      fillBackoff: { initialMs: 1, maxMs: 1 },
    });
    await ingest.hub.loadHistory();
    ingest.hub.setConnected(true);
    const harness = new IngestHarness(ingest, 0, new BearerAuth(options.authToken));
    await harness.startEdge();
    return harness;
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  get hub(): IngestParts['hub'] {
    return this.ingest.hub;
  }

  publish(stream: string, candle: Candle): void {
    this.ingest.hub.ingestCandle(stream, candle);
  }

  /** Starts the gRPC edge, on the port it had before when restarted. */
  async startEdge(): Promise<void> {
    this.edge = await startGrpcEdge({
      bus: this.ingest.bus,
      view: this.ingest.hub,
      logger,
      metrics: new Registry(),
      host: '127.0.0.1',
      port: this.port,
      auth: this.auth,
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
    await this.ingest.hub.stop();
  }
}
