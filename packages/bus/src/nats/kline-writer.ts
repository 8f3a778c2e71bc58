import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { ExchangeId } from '@visualgo/market';
import type { CandleEvent } from '../market-event.js';
import { decodeEvent, encodeEvent } from './event-codec.js';
import { KLINE_STREAM } from './nats-streams.js';
import { klineMessageId, klineSubject } from './nats-subjects.js';
import { SequencedWriter, type StoreOutcome } from './sequenced-writer.js';

export type { StoreOutcome } from './sequenced-writer.js';

export interface KlineWriterOptions {
  readonly venue: ExchangeId;
  /** How long to wait for the store's acknowledgement of one candle. */
  readonly ackTimeoutMs?: number;
  /** Whether to go on retrying (false once the bus closes). */
  readonly alive: () => boolean;
}

/**
 * Stores closed candles in `MD_KLINES` exactly once each and in open-time order per kline stream
 * (a {@link SequencedWriter} keyed by open time, with the content id
 * `binance:kline:BTCUSDT:1m:<openTime>`), however many producers publish the same stream and
 * however late one of them is.
 */
export class KlineWriter {
  private readonly writer: SequencedWriter;

  constructor(
    js: JetStreamClient,
    jsm: JetStreamManager,
    private readonly options: KlineWriterOptions,
  ) {
    this.writer = new SequencedWriter(js, jsm, {
      stream: KLINE_STREAM,
      orderKeyOf: (data) => {
        try {
          const event = decodeEvent(data);
          return event.type === 'candle' ? event.candle.openTimeMs : null;
        } catch {
          return null;
        }
      },
      alive: options.alive,
      ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
    });
  }

  /** See `SequencedWriter.reconnected`. */
  reconnected(): void {
    this.writer.reconnected();
  }

  /**
   * Stores one stream's consecutive closed candles only if they join the newest stored, `after`
   * (see `SequencedWriter.storeJoined`); null when another producer stored on the stream since.
   */
  storeJoined(
    events: readonly CandleEvent[],
    after: { readonly streamSeq: number; readonly openTimeMs: number } | null,
    onRetry?: (error: unknown) => void,
  ): Promise<StoreOutcome[] | null> {
    return this.writer.storeJoined(
      events.map((event) => this.record(event)),
      after && { streamSeq: after.streamSeq, orderKey: after.openTimeMs },
      onRetry,
    );
  }

  /** Stores closed candles (each stream's in open-time order); resolves with each one's outcome. */
  store(events: readonly CandleEvent[], onRetry?: (error: unknown) => void): Promise<StoreOutcome[]> {
    return this.writer.store(
      events.map((event) => this.record(event)),
      onRetry,
    );
  }

  private record(event: CandleEvent) {
    const { venue } = this.options;
    return {
      subject: klineSubject(venue, event.candle.symbol, event.candle.interval),
      msgID: klineMessageId(venue, event.candle),
      orderKey: event.candle.openTimeMs,
      data: encodeEvent(event),
    };
  }
}
