import { type ClientReadableStream, credentials, status as grpcStatus, Metadata } from '@grpc/grpc-js';
import { candleFromProto, marketDataProto, type StatusMessage, toInt64 } from '@visualgo/contracts';
import { type Candle, intervalOpenTimeMs, isInterval, nextOpenTimeMs } from '@visualgo/market';
import { Backoff, type BackoffOptions, type Logger, LogThrottle, sleep } from '@visualgo/platform';
import type { FeedMetrics } from '../algo-metrics.js';
import type { StreamInfo } from '../engine/indicator-engine.js';
import {
  describeGrpcError,
  exchangeIdOf,
  feedStatusMessage,
  grpcCodeOf,
  upstreamStatusMessage,
} from './feed-status.js';
import { getCandles, listStreams } from './unary-calls.js';

/** Where the feed delivers what it receives. */
export interface FeedSink {
  /** The kline streams this feed follows, each time it (re)lists them. */
  declareStreams(infos: readonly StreamInfo[]): void;
  /** One candle update; `bulk` for the warm-up history. */
  candle(stream: string, candle: Candle, bulk: boolean): void;
  /** The warm-up history of a stream has been delivered. */
  historyLoaded(stream: string): void;
  status(message: StatusMessage): void;
}

export interface MarketFeedOptions {
  /** data-ingest gRPC target, `host:port`. */
  readonly target: string;
  /** Kline streams to follow; empty: every kline stream data-ingest lists. */
  readonly streams: readonly string[];
  /** Closed candles fetched per stream at first start (GetCandles, at most 1000). */
  readonly warmupCandles: number;
  readonly sink: FeedSink;
  readonly logger: Logger;
  readonly metrics?: FeedMetrics;
  readonly backoff?: BackoffOptions;
  /** Sent as `authorization: Bearer <token>` on every call, when data-ingest requires a token. */
  readonly authToken?: string;
  /** Deadline of the unary calls. Default 10 s. */
  readonly callTimeoutMs?: number;
  /** A session that lasted this long resets the backoff. Default 10 s. */
  readonly stableSessionMs?: number;
  /**
   * A session on which no candle message (open or closed, any stream) has arrived for this long is
   * ended and restarted like a failed one. Default 60 s; 0 disables.
   */
  readonly staleMs?: number;
  readonly now?: () => number;
}

interface StreamCursor {
  /** Open time of the last closed candle received: the resume point. */
  lastClosedOpenTimeMs: number | null;
  warmedUp: boolean;
  /** data-ingest no longer holds the candles after the resume point (OUT_OF_RANGE). */
  behindHistory: boolean;
}

type Call = ClientReadableStream<unknown>;

const NO_METRICS: FeedMetrics = {
  connected: () => {},
  reconnect: () => {},
  stale: () => {},
  gap: () => {},
  invalidMessage: () => {},
};

/**
 * The gRPC client of data-ingest's `visualgo.v1.MarketData`.
 *
 * A session lists the streams, warms up every stream seen for the first time with GetCandles (the
 * latest `warmupCandles` closed candles, delivered in bulk), then opens one StreamCandles call per
 * stream with `since_open_time_ms` = the open time of the last closed candle received (1 when
 * there is none yet: the warm-up found no history; should the server hold candles by then, it
 * answers OUT_OF_RANGE and the behind-history path takes over), then StreamFeedStatus, whose
 * first message marks the session connected.
 * The server replays the closed candles after that point and continues live with no gap and no
 * duplicate, so every closed candle reaches the sink exactly once and in order, whichever way
 * the session ended. Any error or end of any call ends the session; the next one starts after a
 * capped, jittered backoff.
 *
 * gRPC keepalive only proves the connection is alive. A data-ingest that stays connected but stops
 * sending (a stuck process, a stalled upstream it does not report) is caught by the stale-data
 * watchdog: no candle message on the session for `staleMs` ends it the same way, so the next
 * session resumes from the last closed candle like after any other failure.
 *
 * When data-ingest no longer holds the candle after the resume point it answers OUT_OF_RANGE; the
 * next session then loads the oldest candles it still holds after that point with GetCandles
 * (reporting the hole as a gap) and resumes from the last of them.
 */
export class MarketFeed {
  private readonly client: marketDataProto.MarketDataClient;
  private readonly cursors = new Map<string, StreamCursor>();
  private readonly abort = new AbortController();
  private readonly metrics: FeedMetrics;
  private readonly log: Logger;
  private readonly throttle = new LogThrottle();
  private readonly now: () => number;
  private following: readonly string[] = [];
  private connected = false;
  private sessions = 0;
  private lastError: string | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly options: MarketFeedOptions) {
    this.metrics = options.metrics ?? NO_METRICS;
    this.log = options.logger.child({ component: 'feed', target: options.target });
    this.now = options.now ?? Date.now;
    this.client = new marketDataProto.MarketDataClient(options.target, credentials.createInsecure(), {
      // Detects a silently dead connection while the streams are quiet.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // Candle replays after a long outage can be large.
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('feed stopped'));
    await this.running;
    this.client.close();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Connected, and every followed stream warmed up. */
  get isReady(): boolean {
    return this.connected && this.following.every((s) => this.cursors.get(s)?.warmedUp === true);
  }

  /** The feed's connection state as a `status` message, for clients that just connected. */
  currentStatus(): StatusMessage {
    return feedStatusMessage(
      this.connected ? 'connected' : 'disconnected',
      this.now(),
      this.lastError && !this.connected ? { detail: this.lastError } : {},
    );
  }

  describe(): Record<string, unknown> {
    return {
      target: this.options.target,
      connected: this.connected,
      sessions: this.sessions,
      lastError: this.lastError,
      streams: Object.fromEntries(
        this.following.map((s) => [
          s,
          { lastClosedOpenTimeMs: this.cursors.get(s)?.lastClosedOpenTimeMs ?? null },
        ]),
      ),
    };
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const startedMs = this.now();
      this.sessions++;
      let reason: string;
      try {
        reason = await this.session(signal);
      } catch (err) {
        reason = describeGrpcError(err);
      }
      const wasConnected = this.connected;
      this.setConnected(false);
      if (signal.aborted) break;
      this.lastError = reason;
      if (this.now() - startedMs >= (this.options.stableSessionMs ?? 10_000)) backoff.reset();
      const delayMs = backoff.next();
      this.metrics.reconnect();
      this.log.warn({ reason, delayMs, attempt: backoff.attempts }, 'feed session ended, reconnecting');
      if (wasConnected)
        this.options.sink.status(feedStatusMessage('disconnected', this.now(), { detail: reason }));
      try {
        await sleep(delayMs, signal);
      } catch {
        break;
      }
    }
  }

  /** One session; resolves with why it ended. */
  private async session(signal: AbortSignal): Promise<string> {
    const infos = await this.listStreams(signal);
    this.following = infos.map((i) => i.stream);
    this.options.sink.declareStreams(infos);
    for (const info of infos) {
      const cursor = this.cursor(info.stream);
      if (cursor.warmedUp && !cursor.behindHistory) continue;
      // Warm-up: the latest candles. Behind history: the oldest candles data-ingest still holds
      // after the resume point; the hole before them is reported as a gap by `deliver`.
      const after = cursor.behindHistory ? (cursor.lastClosedOpenTimeMs ?? 0) + 1 : 0;
      const history = await this.getCandles(info.stream, after, signal);
      for (const candle of history) this.deliver(info.stream, candle, true);
      cursor.warmedUp = true;
      cursor.behindHistory = false;
      this.options.sink.historyLoaded(info.stream);
      this.log.info({ stream: info.stream, candles: history.length, after }, 'stream history loaded');
    }
    if (signal.aborted) return 'stopped';

    return new Promise<string>((resolve) => {
      const calls: Call[] = [];
      let ended = false;
      const end = (reason: string) => {
        if (ended) return;
        ended = true;
        watchdog.stop();
        signal.removeEventListener('abort', onAbort);
        for (const call of calls) call.cancel();
        resolve(reason);
      };
      const onAbort = () => end('stopped');
      const watchdog = this.watchStaleness(infos, end);
      const watch = (call: Call, what: string, stream?: string) => {
        calls.push(call);
        call.on('error', (err: unknown) => {
          if (!ended && stream !== undefined && grpcCodeOf(err) === grpcStatus.OUT_OF_RANGE) {
            this.cursor(stream).behindHistory = true;
          }
          end(`${what}: ${describeGrpcError(err)}`);
        });
        call.on('end', () => end(`${what}: ended by the server`));
      };

      for (const info of infos) {
        const since = this.cursor(info.stream).lastClosedOpenTimeMs ?? 1;
        const call = this.client.streamCandles(
          { streams: [info.stream], sinceOpenTimeMs: toInt64(since), closedOnly: false },
          this.metadata(),
        );
        call.on('data', (p: marketDataProto.Candle) => {
          watchdog.touch();
          this.receive(info.stream, p);
        });
        watch(call, `StreamCandles ${info.stream}`, info.stream);
      }
      // Opened last on the same connection, and answered at once with the current state: its
      // first message means the server has taken every StreamCandles call above, so no update
      // published from then on can be missed.
      const statusCall = this.client.streamFeedStatus({}, this.metadata());
      statusCall.on('data', (p: marketDataProto.FeedStatus) => {
        if (!this.connected && !ended) {
          this.setConnected(true);
          this.options.sink.status(
            feedStatusMessage('connected', this.now(), { detail: `${infos.length} streams` }),
          );
          this.log.info({ streams: infos.length, session: this.sessions }, 'feed connected');
        }
        const message = upstreamStatusMessage(p);
        if (message) this.options.sink.status(message);
      });
      watch(statusCall, 'StreamFeedStatus');
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The stale-data watchdog of one session: calls `end` once no candle message has been `touch`ed
   * for `staleMs`, counting from the opening of the candle calls (which also covers a server that
   * never answers them). Open-candle updates arrive every ~2 s per stream while the exchange is
   * live, so only a silent data-ingest, or one whose market has stopped, trips it.
   */
  private watchStaleness(infos: readonly StreamInfo[], end: (reason: string) => void) {
    const staleMs = this.options.staleMs ?? 60_000;
    let lastMessageMs = this.now();
    const touch = () => {
      lastMessageMs = this.now();
    };
    if (staleMs <= 0) return { touch, stop: () => {} };
    const check = () => {
      const silentMs = this.now() - lastMessageMs;
      if (silentMs < staleMs) return;
      this.metrics.stale();
      this.log.warn(
        { streams: infos.map((i) => i.stream), silentMs, staleMs, session: this.sessions },
        'no candle message from data-ingest, restarting the feed session',
      );
      end(`stale: no candle message for ${silentMs} ms`);
    };
    const timer = setInterval(check, Math.min(5_000, Math.max(20, Math.floor(staleMs / 4))));
    timer.unref();
    return { touch, stop: () => clearInterval(timer) };
  }

  private receive(stream: string, p: marketDataProto.Candle): void {
    let candle: Candle;
    try {
      candle = candleFromProto(p);
    } catch (err) {
      this.metrics.invalidMessage(stream);
      const suppressed = this.throttle.take('invalid');
      if (suppressed !== null) this.log.warn({ err, stream, suppressed }, 'invalid candle message dropped');
      return;
    }
    this.deliver(stream, candle, false);
  }

  private deliver(stream: string, candle: Candle, bulk: boolean): void {
    const cursor = this.cursor(stream);
    const last = cursor.lastClosedOpenTimeMs;
    if (candle.closed && (last === null || candle.openTimeMs > last)) {
      if (last !== null && candle.openTimeMs > nextOpenTimeMs(candle.interval, last))
        this.reportGap(stream, candle, last);
      cursor.lastClosedOpenTimeMs = candle.openTimeMs;
    }
    // Anything older goes to the sink too, whose indicator state refuses and counts it.
    this.options.sink.candle(stream, candle, bulk);
  }

  private reportGap(stream: string, candle: Candle, last: number): void {
    const fromOpenTimeMs = nextOpenTimeMs(candle.interval, last);
    const toOpenTimeMs = intervalOpenTimeMs(candle.interval, candle.openTimeMs - 1);
    this.metrics.gap(stream);
    this.log.warn({ stream, fromOpenTimeMs, toOpenTimeMs }, 'closed candles missing from the feed');
    this.options.sink.status(
      feedStatusMessage('gap-detected', this.now(), {
        stream,
        exchange: candle.exchange,
        fromOpenTimeMs,
        toOpenTimeMs,
        detail: 'data-ingest no longer holds these candles; indicators continue across the gap',
      }),
    );
  }

  private cursor(stream: string): StreamCursor {
    let cursor = this.cursors.get(stream);
    if (!cursor) {
      cursor = { lastClosedOpenTimeMs: null, warmedUp: false, behindHistory: false };
      this.cursors.set(stream, cursor);
    }
    return cursor;
  }

  /** Call metadata: the bearer token, when one is configured. */
  private metadata(): Metadata {
    const md = new Metadata();
    if (this.options.authToken) md.set('authorization', `Bearer ${this.options.authToken}`);
    return md;
  }

  private setConnected(up: boolean): void {
    if (up === this.connected) return;
    this.connected = up;
    this.metrics.connected(up);
    if (up) this.lastError = null;
  }

  private async listStreams(signal: AbortSignal): Promise<StreamInfo[]> {
    const res = await listStreams(this.client, this.metadata(), this.options.callTimeoutMs ?? 10_000, signal);
    return this.selectStreams(res.streams);
  }

  private selectStreams(listed: readonly marketDataProto.StreamInfo[]): StreamInfo[] {
    const klines: StreamInfo[] = [];
    for (const s of listed) {
      const exchange = exchangeIdOf(s.exchange);
      if (s.kind !== marketDataProto.StreamKind.STREAM_KIND_KLINE || !isInterval(s.interval) || !exchange)
        continue;
      klines.push({ stream: s.stream, exchange, symbol: s.symbol, interval: s.interval });
    }
    const wanted = this.options.streams;
    if (wanted.length === 0) return klines;
    const served = new Set(klines.map((k) => k.stream));
    const missing = wanted.filter((s) => !served.has(s));
    if (missing.length > 0) {
      this.log.error({ missing, served: [...served] }, 'configured streams are not served by data-ingest');
    }
    return klines.filter((k) => wanted.includes(k.stream));
  }

  /** The latest `warmupCandles` closed candles, or with `startTimeMs` > 0 the oldest ones from it. */
  private async getCandles(stream: string, startTimeMs: number, signal: AbortSignal): Promise<Candle[]> {
    const request = {
      stream,
      startTimeMs: toInt64(startTimeMs),
      endTimeMs: 0n,
      limit: this.options.warmupCandles,
    };
    const res = await getCandles(
      this.client,
      request,
      this.metadata(),
      this.options.callTimeoutMs ?? 10_000,
      signal,
    );
    const candles: Candle[] = [];
    for (const p of res.candles) {
      try {
        candles.push(candleFromProto(p));
      } catch (err) {
        this.metrics.invalidMessage(stream);
        this.log.warn({ err, stream }, 'invalid history candle dropped');
      }
    }
    return candles;
  }
}
