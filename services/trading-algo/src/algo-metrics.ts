import type { CandleRejectionReason, RubberbandSignal } from '@visualgo/market';
import {
  createWsFanoutMetrics,
  TalliedCounter,
  type TallySeries,
  type WsFanoutMetrics,
} from '@visualgo/platform';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Counting hooks of the indicator engine. */
export interface EngineMetrics {
  candleIn(stream: string, closed: boolean): void;
  pointOut(stream: string, final: boolean): void;
  signalFired(stream: string, side: Exclude<RubberbandSignal, 'none'>): void;
  rejected(stream: string, reason: CandleRejectionReason): void;
}

/** Counting hooks of the gRPC feed. */
export interface FeedMetrics {
  connected(up: boolean): void;
  reconnect(): void;
  /** A session ended by the stale-data watchdog. */
  stale(): void;
  gap(stream: string): void;
  invalidMessage(stream: string): void;
}

/** Counting hooks of the WebSocket edge beyond what the fan-out counts itself. */
export interface WsEdgeMetrics {
  readonly fanout: WsFanoutMetrics;
  clientError(code: string): void;
}

export interface AlgoMetrics {
  readonly engine: EngineMetrics;
  readonly feed: FeedMetrics;
  readonly ws: WsEdgeMetrics;
}

/** The per-update counters of one stream. */
interface StreamTallies {
  readonly open: TallySeries;
  readonly closed: TallySeries;
  readonly preview: TallySeries;
  readonly final: TallySeries;
}

/**
 * Every Prometheus series of the service, `algo_` prefixed. Stream labels are bounded by the
 * streams data-ingest serves (or `ALGO_STREAMS`).
 */
export function createAlgoMetrics(registry: Registry): AlgoMetrics {
  const registers = [registry];
  // Counted for every candle update: plain numbers per stream, handed to Prometheus when scraped.
  const candles = new TalliedCounter<'stream' | 'state'>({
    name: 'algo_candles_received_total',
    help: 'Candle updates received from data-ingest, by stream and state (open, closed).',
    labelNames: ['stream', 'state'],
    registers,
  });
  const points = new TalliedCounter<'stream' | 'final'>({
    name: 'algo_points_emitted_total',
    help: 'Indicator points computed, by stream and whether final.',
    labelNames: ['stream', 'final'],
    registers,
  });
  const signals = new Counter({
    name: 'algo_signals_fired_total',
    help: 'Rubberband signals fired on closed candles, by stream and side.',
    labelNames: ['stream', 'side'],
    registers,
  });
  const rejections = new Counter({
    name: 'algo_candle_rejections_total',
    help: 'Candles the indicator state refused (duplicate, out-of-order, invalid, ...), by stream and reason.',
    labelNames: ['stream', 'reason'],
    registers,
  });
  const connected = new Gauge({
    name: 'algo_feed_connected',
    help: '1 while the gRPC feed from data-ingest is up.',
    registers,
  });
  const reconnects = new Counter({
    name: 'algo_feed_reconnects_total',
    help: 'gRPC feed sessions restarted after an error or end of stream.',
    registers,
  });
  const stale = new Counter({
    name: 'algo_feed_stale_total',
    help: 'gRPC feed sessions ended because no candle message arrived for FEED_STALE_MS.',
    registers,
  });
  const gaps = new Counter({
    name: 'algo_feed_gaps_total',
    help: 'Holes seen in the closed-candle series of a stream (candles missing between two received ones).',
    labelNames: ['stream'],
    registers,
  });
  const invalid = new Counter({
    name: 'algo_feed_invalid_messages_total',
    help: 'gRPC candle messages that could not be converted to a domain candle.',
    labelNames: ['stream'],
    registers,
  });
  const clientErrors = new Counter({
    name: 'algo_ws_client_errors_total',
    help: 'WebSocket client messages answered with an error, by code.',
    labelNames: ['code'],
    registers,
  });
  const perStream = new Map<string, StreamTallies>();
  const tallies = (stream: string): StreamTallies => {
    let t = perStream.get(stream);
    if (!t) {
      t = {
        open: candles.series({ stream, state: 'open' }),
        closed: candles.series({ stream, state: 'closed' }),
        preview: points.series({ stream, final: 'false' }),
        final: points.series({ stream, final: 'true' }),
      };
      perStream.set(stream, t);
    }
    return t;
  };
  return {
    engine: {
      candleIn: (stream, closed) => {
        const t = tallies(stream);
        (closed ? t.closed : t.open).value++;
      },
      pointOut: (stream, final) => {
        const t = tallies(stream);
        (final ? t.final : t.preview).value++;
      },
      signalFired: (stream, side) => signals.inc({ stream, side }),
      rejected: (stream, reason) => rejections.inc({ stream, reason }),
    },
    feed: {
      connected: (up) => connected.set(up ? 1 : 0),
      reconnect: () => reconnects.inc(),
      stale: () => stale.inc(),
      gap: (stream) => gaps.inc({ stream }),
      invalidMessage: (stream) => invalid.inc({ stream }),
    },
    ws: {
      fanout: createWsFanoutMetrics(registry, 'algo_ws'),
      clientError: (code) => clientErrors.inc({ code }),
    },
  };
}
