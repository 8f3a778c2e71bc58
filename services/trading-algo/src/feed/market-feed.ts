import { type ClientReadableStream, credentials, status as grpcStatus, Metadata } from '@grpc/grpc-js';
import {
  candleFromProto,
  feedStatusNumbers,
  marketDataProto,
  type StatusMessage,
  toInt64,
} from '@visualgo/contracts';
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
  /**
   * Every closed candle the market has from this open time on will be delivered; earlier ones may
   * be missing. Called before a warm-up's first candle, and after a hole that could not be filled.
   */
  completeFrom(stream: string, openTimeMs: number): void;
  /** The warm-up history of a stream has been delivered. */
  historyLoaded(stream: string): void;
  status(message: StatusMessage): void;
}

export interface MarketFeedOptions {
  /** data-ingest gRPC target, `host:port`. */
  readonly target: string;
  /** Kline streams to follow; empty: every kline stream data-ingest lists. */
  readonly streams: readonly string[];
  /**
   * Where a stream's warm-up starts, given the open time of its latest closed candle: the
   * calendar-fixed origin from which every served point is exact (see IndicatorEngine).
   */
  readonly warmupFromMs: (info: StreamInfo, latestClosedOpenTimeMs: number) => number;
  /**
   * Sessions in a row whose warm-up failed before the stream warms up from the candles data-ingest
   * holds, with the values before them flagged partial. Default 3.
   */
  readonly historyAttempts?: number;
  readonly sink: FeedSink;
  readonly logger: Logger;
  readonly metrics?: FeedMetrics;
  readonly backoff?: BackoffOptions;
  /** Sent as `authorization: Bearer <token>` on every call, when data-ingest requires a token. */
  readonly authToken?: string;
  /** Deadline of the unary calls that data-ingest answers from what it holds. Default 10 s. */
  readonly callTimeoutMs?: number;
  /**
   * Deadline of a history call that data-ingest may have to take to the exchange. Default 90 s:
   * Binance counts REST weight per clock minute, and data-ingest with its budget spent waits for
   * the next minute (up to 60 s) before it asks; a shorter deadline would give up on a call that
   * was about to be answered, and after `historyAttempts` of those the stream would start partial.
   */
  readonly historyCallTimeoutMs?: number;
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
  /** data-ingest cannot serve the candles after the resume point (OUT_OF_RANGE). */
  behindHistory: boolean;
  /** Sessions in a row whose warm-up failed. */
  warmupFailures: number;
  /** Sessions in a row whose resume was refused as unavailable before the session connected. */
  resumeFailures: number;
  /** No history was found: the first candle delivered starts what is known. */
  completeFromFirst: boolean;
  /** data-ingest reported candles up to here lost: history is complete from the next one delivered. */
  lostThroughMs: number | null;
}

/** GetCandles answers at most this many candles. */
const PAGE = 1_000;
/** Default deadline of a history call that may reach the exchange (see `historyCallTimeoutMs`). */
const HISTORY_CALL_TIMEOUT_MS = 90_000;

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
 * A session lists the streams, warms up every stream seen for the first time with GetCandles,
 * paged 1000 at a time from the calendar-fixed origin `warmupFromMs` gives for its latest closed
 * candle (delivered in bulk), then opens one StreamCandles call per stream with
 * `since_open_time_ms` = the open time of the last closed candle received (1 when there is none
 * yet: the warm-up found no history), then StreamFeedStatus, whose first message marks the
 * session connected.
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
 * data-ingest serves old candles from the exchange's REST API when it no longer holds them. When
 * it cannot (the exchange refuses, for longer than its retries), the warm-up is retried for
 * `historyAttempts` sessions and then starts from the candles data-ingest holds, and a resume
 * answered OUT_OF_RANGE continues from the oldest candles it holds after the resume point; either
 * way the hole is reported as a gap and the sink is told that history is complete only from after
 * it, so the values that depend on the hole are flagged, not passed off as exact.
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
      if (cursor.behindHistory) {
        await this.catchUp(info, cursor, signal);
        cursor.resumeFailures = 0;
      } else {
        await this.warmUp(info, cursor, signal);
      }
      cursor.warmedUp = true;
      cursor.behindHistory = false;
      this.options.sink.historyLoaded(info.stream);
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
          if (!ended && stream !== undefined) this.resumeFailed(stream, grpcCodeOf(err), this.connected);
          end(`${what}: ${describeGrpcError(err)}`);
        });
        call.on('end', () => end(`${what}: ended by the server`));
      };

      for (const info of infos) {
        // Without a closed candle yet (no history at all) there is nothing to resume: live only.
        const since = this.cursor(info.stream).lastClosedOpenTimeMs ?? 0;
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
          for (const info of infos) this.cursor(info.stream).resumeFailures = 0;
          this.options.sink.status(
            feedStatusMessage('connected', this.now(), { detail: `${infos.length} streams` }),
          );
          this.log.info({ streams: infos.length, session: this.sessions }, 'feed connected');
        }
        if (p.kind === marketDataProto.FeedStatusKind.FEED_STATUS_KIND_GAP_UNFILLED && p.lost)
          this.holeReported(p.stream, feedStatusNumbers(p).toOpenTimeMs);
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

  /**
   * Loads a stream's history from its calendar-fixed origin up to its latest closed candle. A
   * failed attempt keeps what it delivered; the next session continues after it. After
   * `historyAttempts` failed sessions the stream starts from the candles data-ingest holds.
   */
  private async warmUp(info: StreamInfo, cursor: StreamCursor, signal: AbortSignal): Promise<void> {
    const stream = info.stream;
    try {
      const latest = (await this.getCandles(stream, 0, 1, signal)).at(-1);
      if (latest === undefined) {
        cursor.completeFromFirst = true;
        this.log.warn({ stream }, 'data-ingest holds no history: values are partial until it builds up');
        return;
      }
      const fromMs = this.options.warmupFromMs(info, latest.openTimeMs);
      this.options.sink.completeFrom(stream, fromMs);
      let loaded = 0;
      for (;;) {
        const last = cursor.lastClosedOpenTimeMs;
        const startMs = last === null ? fromMs : Math.max(fromMs, last + 1);
        if (startMs > latest.openTimeMs) break;
        const page = await this.getCandles(stream, startMs, PAGE, signal);
        for (const candle of page) this.deliver(stream, candle, true);
        loaded += page.length;
        if (page.length < PAGE || (page.at(-1)?.openTimeMs ?? Number.POSITIVE_INFINITY) >= latest.openTimeMs)
          break;
      }
      cursor.warmupFailures = 0;
      this.log.info({ stream, candles: loaded, fromMs }, 'stream history loaded');
    } catch (err) {
      if (signal.aborted) throw err;
      cursor.warmupFailures += 1;
      if (cursor.warmupFailures < (this.options.historyAttempts ?? 3)) throw err;
      this.log.error(
        { stream, err, attempts: cursor.warmupFailures },
        'stream history could not be loaded, starting from the candles data-ingest holds',
      );
      await this.catchUp(info, cursor, signal, describeGrpcError(err));
    }
  }

  /**
   * Continues after a hole that data-ingest cannot fill: the oldest candles it holds after the
   * resume point (or its latest, without one). The hole is reported, and history is complete only
   * from the first candle after it.
   */
  private async catchUp(
    info: StreamInfo,
    cursor: StreamCursor,
    signal: AbortSignal,
    reason = 'data-ingest no longer holds these candles',
  ): Promise<void> {
    const stream = info.stream;
    const last = cursor.lastClosedOpenTimeMs;
    // What data-ingest holds: the exchange is what failed.
    const history = await this.getCandles(stream, last === null ? 0 : last + 1, PAGE, signal, true);
    const first = history.find((c) => last === null || c.openTimeMs > last);
    if (first === undefined) {
      cursor.completeFromFirst = true;
      return;
    }
    if (last === null) {
      // A warm-up that could not reach its origin: what lies between is unknown.
      this.options.sink.completeFrom(stream, first.openTimeMs);
      const wantedMs = this.options.warmupFromMs(info, history.at(-1)?.openTimeMs ?? first.openTimeMs);
      if (wantedMs < first.openTimeMs) this.reportGap(stream, first, wantedMs, reason, true);
    }
    // After a resume point, the jump to the first candle reports the hole and marks it.
    for (const candle of history) this.deliver(stream, candle, true, reason);
    this.log.info({ stream, candles: history.length, after: last }, 'stream history loaded after a hole');
  }

  /**
   * A StreamCandles call failed. OUT_OF_RANGE: data-ingest will not replay from the resume point.
   * UNAVAILABLE before the session connected, `historyAttempts` sessions in a row: it cannot
   * (the exchange does not serve the history it lacks). Either way the next session continues
   * from what it holds.
   */
  private resumeFailed(stream: string, code: number | null, connected: boolean): void {
    const cursor = this.cursor(stream);
    if (code === grpcStatus.OUT_OF_RANGE) {
      cursor.behindHistory = true;
    } else if (code === grpcStatus.UNAVAILABLE && !connected && cursor.lastClosedOpenTimeMs !== null) {
      cursor.resumeFailures += 1;
      if (cursor.resumeFailures >= (this.options.historyAttempts ?? 3)) cursor.behindHistory = true;
    }
  }

  /**
   * data-ingest could not fill a hole that ends at `toOpenTimeMs` (the exchange failed): history
   * is complete again from the first candle after it. The report comes before those candles; if it
   * arrives after them (it travels on another call), history is marked from right after the hole.
   */
  private holeReported(stream: string, toOpenTimeMs: number): void {
    const cursor = this.cursors.get(stream);
    if (!cursor || toOpenTimeMs <= 0) return;
    const last = cursor.lastClosedOpenTimeMs;
    if (last !== null && last > toOpenTimeMs) this.options.sink.completeFrom(stream, toOpenTimeMs + 1);
    else cursor.lostThroughMs = Math.max(cursor.lostThroughMs ?? 0, toOpenTimeMs);
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

  /**
   * Passes a candle on and advances the resume point. `lost` says why a jump over missing closed
   * candles happened when data-ingest could not serve them; without it a jump is the market's own
   * (no candles exist there: an exchange outage) and continues the complete history.
   */
  private deliver(stream: string, candle: Candle, bulk: boolean, lost?: string): void {
    const cursor = this.cursor(stream);
    if (cursor.completeFromFirst) {
      cursor.completeFromFirst = false;
      this.options.sink.completeFrom(stream, candle.openTimeMs);
    }
    const last = cursor.lastClosedOpenTimeMs;
    if (candle.closed && cursor.lostThroughMs !== null && candle.openTimeMs > cursor.lostThroughMs) {
      cursor.lostThroughMs = null;
      this.options.sink.completeFrom(stream, candle.openTimeMs);
    }
    if (candle.closed && (last === null || candle.openTimeMs > last)) {
      if (last !== null && candle.openTimeMs > nextOpenTimeMs(candle.interval, last)) {
        const from = nextOpenTimeMs(candle.interval, last);
        if (lost !== undefined) {
          this.reportGap(stream, candle, from, lost, true);
          this.options.sink.completeFrom(stream, candle.openTimeMs);
        } else {
          this.reportGap(stream, candle, from, 'no candles were served for this range', false);
        }
      }
      cursor.lastClosedOpenTimeMs = candle.openTimeMs;
    }
    // Anything older goes to the sink too, whose indicator state refuses and counts it.
    this.options.sink.candle(stream, candle, bulk);
  }

  private reportGap(
    stream: string,
    candle: Candle,
    fromOpenTimeMs: number,
    why: string,
    lost: boolean,
  ): void {
    const toOpenTimeMs = intervalOpenTimeMs(candle.interval, candle.openTimeMs - 1);
    this.metrics.gap(stream);
    this.log.warn({ stream, fromOpenTimeMs, toOpenTimeMs, why }, 'closed candles missing from the feed');
    this.options.sink.status(
      feedStatusMessage('gap-detected', this.now(), {
        stream,
        exchange: candle.exchange,
        fromOpenTimeMs,
        toOpenTimeMs,
        detail: lost
          ? `${why}; indicators continue across the gap, flagged partial until their next period`
          : why,
      }),
    );
  }

  private cursor(stream: string): StreamCursor {
    let cursor = this.cursors.get(stream);
    if (!cursor) {
      cursor = {
        lastClosedOpenTimeMs: null,
        warmedUp: false,
        behindHistory: false,
        warmupFailures: 0,
        resumeFailures: 0,
        completeFromFirst: false,
        lostThroughMs: null,
      };
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

  /** The latest `limit` closed candles, or with `startTimeMs` > 0 the oldest ones from it. */
  private async getCandles(
    stream: string,
    startTimeMs: number,
    limit: number,
    signal: AbortSignal,
    heldOnly = false,
  ): Promise<Candle[]> {
    const request = { stream, startTimeMs: toInt64(startTimeMs), endTimeMs: 0n, limit, heldOnly };
    const timeoutMs = heldOnly
      ? (this.options.callTimeoutMs ?? 10_000)
      : (this.options.historyCallTimeoutMs ?? HISTORY_CALL_TIMEOUT_MS);
    const res = await getCandles(this.client, request, this.metadata(), timeoutMs, signal);
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
