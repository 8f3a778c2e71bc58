/**
 * The clients a chaos run keeps going while it injects faults. Each one is a correct client of a
 * service's documented protocol, reconnecting and resuming the way the docs say, and each records
 * what it was given (not what it made of it) so that a double or a reordering by a service shows:
 *
 * - {@link GrpcCandleClient}: data-ingest `StreamCandles` with `closed_only`, resuming with
 *   `since_open_time_ms` = the last open time received.
 * - {@link GrpcTradeClient}: data-ingest `StreamTrades` (it has no resume point: each session is
 *   checked on its own, and the ids a restart of data-ingest skipped are counted as not served).
 * - {@link GrpcStatusClient}: data-ingest `StreamFeedStatus`, for the gaps it reports unfilled.
 * - {@link BinanceWsClient}: data-ingest's Binance-compatible `/stream`, filling what it missed
 *   while disconnected from `/api/v3/klines`, as a Binance client does.
 * - {@link AlgoWsClient}: trading-algo's `/ws`, whose `snapshot` on every connect covers the gap.
 */
import { credentials, status } from '@grpc/grpc-js';
import {
  algoServerMessageSchema,
  binanceCombinedFrame,
  binanceKlineEvent,
  candleFromProto,
  fromInt64,
  marketDataProto,
  type WireIndicatorPoint,
} from '@visualgo/contracts';
import type { Candle } from '@visualgo/market';
import WebSocket from 'ws';

const MINUTE = 60_000;
const RETRY_MS = 100;

type GrpcClient = InstanceType<typeof marketDataProto.MarketDataClient>;

/**
 * A client's gRPC channel, kept for the whole run: it reconnects by itself after data-ingest
 * restarts. (A channel per session would leave closed channels' connections open for a while, and
 * one address soon holds data-ingest's per-address connection cap.)
 */
export class SharedChannel {
  private client: GrpcClient | null = null;

  constructor(private readonly target: string) {}

  get(): GrpcClient {
    this.client ??= new marketDataProto.MarketDataClient(this.target, credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
    });
    return this.client;
  }

  close(): void {
    this.client?.close();
    this.client = null;
  }
}

abstract class Reconnecting {
  protected stopped = false;
  private timer: NodeJS.Timeout | null = null;
  sessions = 0;

  protected abstract open(): void;
  protected abstract close(): void;

  start(): void {
    this.sessions++;
    this.open();
  }

  /** The session ended: open another soon, unless stopped. */
  protected again(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.start();
    }, RETRY_MS);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.close();
  }
}

interface GrpcStreamCall extends NodeJS.EventEmitter {
  cancel(): void;
}

/** A client of one server-streaming call on the shared channel, opened again whenever it ends. */
abstract class GrpcStreamClient extends Reconnecting {
  private call: GrpcStreamCall | null = null;

  /** Follows `call` until it ends (error or end), tells `onEnd` how, and opens another. */
  protected follow(call: GrpcStreamCall, onEnd?: (err?: { code?: number; details?: string }) => void): void {
    this.call = call;
    const ended = (err?: { code?: number; details?: string }) => {
      onEnd?.(err);
      if (this.call !== call) return;
      this.call = null;
      this.again();
    };
    call.on('error', ended);
    call.on('end', () => ended());
  }

  protected close(): void {
    this.call?.cancel();
    this.call = null;
  }
}

/** Closed candles of one stream over gRPC, resumed from the last one received. */
export class GrpcCandleClient extends GrpcStreamClient {
  /** Every candle received, in the order received, duplicates included. */
  readonly received: Candle[] = [];
  constructor(
    private readonly client: SharedChannel,
    private readonly stream: string,
  ) {
    super();
  }

  get last(): Candle | undefined {
    return this.received.at(-1);
  }

  protected open(): void {
    const since = this.last?.openTimeMs ?? 0;
    const call = this.client
      .get()
      .streamCandles({ streams: [this.stream], sinceOpenTimeMs: BigInt(since), closedOnly: true });
    call.on('data', (c: marketDataProto.Candle) => {
      if (c.closed) this.received.push(candleFromProto(c));
    });
    this.follow(call);
  }
}

export interface TradeRecord {
  readonly tradeId: number;
  readonly price: number;
  readonly quantity: number;
  readonly tradeTimeMs: number;
  readonly buyerIsMaker: boolean;
}

/** Trades of one stream over gRPC; one list per session, and how each session ended. */
export class GrpcTradeClient extends GrpcStreamClient {
  readonly bySession: TradeRecord[][] = [];
  /** Per session: the status it ended with (`RESOURCE_EXHAUSTED: ...` for a slow consumer), or null while open. */
  readonly endedWith: (string | null)[] = [];
  /** Per session: what the run was doing when it ended (the scenario). */
  readonly endedDuring: (string | null)[] = [];
  /** Set by the run: the scenario in progress. */
  phase = 'start';
  constructor(
    private readonly client: SharedChannel,
    private readonly stream: string,
  ) {
    super();
  }

  get count(): number {
    return this.bySession.reduce((n, s) => n + s.length, 0);
  }

  protected open(): void {
    const session: TradeRecord[] = [];
    const index = this.bySession.push(session) - 1;
    this.endedWith.push(null);
    this.endedDuring.push(null);
    const call = this.client.get().streamTrades({ streams: [this.stream] });
    call.on('data', (t: marketDataProto.Trade) =>
      session.push({
        tradeId: fromInt64(t.tradeId, 'trade_id'),
        price: t.price,
        quantity: t.quantity,
        tradeTimeMs: fromInt64(t.tradeTimeMs, 'trade_time_ms'),
        buyerIsMaker: t.buyerIsMaker,
      }),
    );
    this.follow(call, (err) => {
      if (this.endedWith[index] !== null) return;
      this.endedWith[index] = err ? `${status[err.code ?? 2] ?? err.code}: ${err.details ?? ''}` : 'end';
      this.endedDuring[index] = this.phase;
    });
  }
}

export interface ReportedGap {
  readonly stream: string;
  readonly fromOpenTimeMs: number;
  readonly toOpenTimeMs: number;
  readonly fromTradeId: number;
  readonly toTradeId: number;
  readonly lost: boolean;
}

/** data-ingest's feed status: the gaps it declared unfillable. */
export class GrpcStatusClient extends GrpcStreamClient {
  readonly unfilled: ReportedGap[] = [];
  constructor(private readonly client: SharedChannel) {
    super();
  }

  protected open(): void {
    const call = this.client.get().streamFeedStatus({});
    call.on('data', (s: marketDataProto.FeedStatus) => {
      if (s.kind !== marketDataProto.FeedStatusKind.FEED_STATUS_KIND_GAP_UNFILLED) return;
      this.unfilled.push({
        stream: s.stream,
        fromOpenTimeMs: fromInt64(s.fromOpenTimeMs, 'from_open_time_ms'),
        toOpenTimeMs: fromInt64(s.toOpenTimeMs, 'to_open_time_ms'),
        fromTradeId: fromInt64(s.fromTradeId, 'from_trade_id'),
        toTradeId: fromInt64(s.toTradeId, 'to_trade_id'),
        lost: s.lost,
      });
    });
    this.follow(call);
  }
}

/**
 * A Binance client of data-ingest's `/stream`: final klines from the stream; after a reconnect,
 * what it missed from `/api/v3/klines` (every row but the newest, which may still be open).
 */
export class BinanceWsClient extends Reconnecting {
  /** Closed candles by open time: the series this client holds (OHLCV as strings, as sent). */
  readonly series = new Map<number, readonly string[]>();
  /** Within one connection: a final kline at or before the previous one (a double or a reordering). */
  liveOutOfOrder = 0;
  /** Frames that failed Binance's schemas. */
  readonly invalid: string[] = [];
  private ws: WebSocket | null = null;
  /** The open time up to which the series has no hole. */
  private completeThrough: number | undefined;

  constructor(
    private readonly httpUrl: () => string,
    private readonly stream: string,
    private readonly symbol: string,
  ) {
    super();
  }

  get lastOpenTimeMs(): number | undefined {
    let last: number | undefined;
    for (const t of this.series.keys()) if (last === undefined || t > last) last = t;
    return last;
  }

  protected open(): void {
    const ws = new WebSocket(`${this.httpUrl().replace('http', 'ws')}/stream?streams=${this.stream}`);
    this.ws = ws;
    let lastLive: number | null = null;
    ws.on('message', (data) => {
      const text = String(data);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        this.invalid.push(text.slice(0, 200));
        return;
      }
      const frame = binanceCombinedFrame.safeParse(json);
      const event = frame.success ? binanceKlineEvent.safeParse(frame.data.data) : undefined;
      if (!event?.success) {
        this.invalid.push(text.slice(0, 200));
        return;
      }
      const k = event.data.k;
      if (!k.x) return;
      if (lastLive !== null && k.t <= lastLive) this.liveOutOfOrder++;
      lastLive = k.t;
      this.series.set(k.t, [k.o, k.h, k.l, k.c, k.v, k.q]);
    });
    ws.on('open', () => {
      void this.fill();
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.again();
    });
  }

  /** The open time up to which the series has no hole (from its first candle). */
  private holeFreeThrough(): number | undefined {
    let t = this.completeThrough ?? (this.series.size > 0 ? Math.min(...this.series.keys()) : undefined);
    if (t === undefined) return undefined;
    while (this.series.has(t + MINUTE)) t += MINUTE;
    this.completeThrough = t;
    return t;
  }

  /**
   * Fetches the candles after the hole-free part of the series, page by page, up to the newest
   * closed one (from there, not from the newest held: a connection that failed before its fill
   * finished may have left live candles after a hole).
   */
  private async fill(): Promise<void> {
    let from = this.holeFreeThrough();
    if (from === undefined) return;
    try {
      for (;;) {
        const url = `${this.httpUrl()}/api/v3/klines?symbol=${this.symbol}&interval=1m&startTime=${from + MINUTE}&limit=1000`;
        const res = await fetch(url);
        if (!res.ok) throw new Error(`klines: HTTP ${res.status}`);
        const rows = (await res.json()) as (string | number)[][];
        // The newest row may be the open candle; the live stream gives it once it closes.
        const closed = rows.length < 1000 ? rows.slice(0, -1) : rows;
        for (const r of closed) {
          const t = Number(r[0]);
          if (!this.series.has(t)) this.series.set(t, [r[1], r[2], r[3], r[4], r[5], r[7]].map(String));
        }
        if (rows.length < 1000) return;
        from = Number(rows.at(-1)?.[0]);
      }
    } catch {
      // data-ingest went away again: the next connection fills from the same point.
      this.ws?.terminate();
    }
  }

  protected close(): void {
    this.ws?.terminate();
    this.ws = null;
  }
}

/** trading-algo's `/ws`: final points by open time, from snapshots and live messages. */
export class AlgoWsClient extends Reconnecting {
  readonly points = new Map<number, WireIndicatorPoint>();
  /** Within one connection: a final point that is not the next candle after the previous one. */
  liveBreaks = 0;
  readonly invalid: string[] = [];
  private ws: WebSocket | null = null;

  constructor(
    private readonly wsUrl: () => string,
    private readonly stream: string,
  ) {
    super();
  }

  get lastOpenTimeMs(): number | undefined {
    let last: number | undefined;
    for (const t of this.points.keys()) if (last === undefined || t > last) last = t;
    return last;
  }

  protected open(): void {
    const ws = new WebSocket(this.wsUrl());
    this.ws = ws;
    let lastFinal: number | null = null;
    ws.on('message', (data) => {
      const text = String(data);
      let parsed: ReturnType<typeof algoServerMessageSchema.safeParse>;
      try {
        parsed = algoServerMessageSchema.safeParse(JSON.parse(text));
      } catch {
        this.invalid.push(text.slice(0, 200));
        return;
      }
      if (!parsed.success) {
        this.invalid.push(text.slice(0, 200));
        return;
      }
      const m = parsed.data;
      if (m.type === 'snapshot' && m.stream === this.stream) {
        for (const { ...p } of m.points) this.points.set(p.openTimeMs, p);
        lastFinal = m.points.at(-1)?.openTimeMs ?? lastFinal;
      } else if (m.type === 'indicator' && m.stream === this.stream && m.final) {
        const { type: _t, stream: _s, exchange: _e, symbol: _y, interval: _i, ...point } = m;
        if (lastFinal !== null && point.openTimeMs !== lastFinal + MINUTE) this.liveBreaks++;
        lastFinal = point.openTimeMs;
        this.points.set(point.openTimeMs, point);
      }
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.again();
    });
  }

  protected close(): void {
    this.ws?.terminate();
    this.ws = null;
  }
}
