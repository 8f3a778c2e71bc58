import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';

/** The JetStream stream of closed candles (subjects `md.*.kline.>`). */
export const KLINE_STREAM = 'MD_KLINES';
/** The JetStream stream that keeps each kline stream's latest live state (subjects `md.*.candle.>`). */
export const CANDLE_STREAM = 'MD_CANDLES';

/**
 * Closed candles kept per kline stream by default: trading-algo's warm-up at 1m reaches back to
 * yesterday 00:00 UTC minus 388 candles, and keeps 2,000 points: at most 2,000 + 1,440 + 388 + one
 * day of margin = 5,268. Rounded up.
 */
export const DEFAULT_KLINE_HISTORY = 6_000;

/** The duplicate window: a candle published again within 10 minutes is dropped by id. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export interface StreamSettings {
  /** Closed candles kept per kline stream (`max_msgs_per_subject`). */
  readonly klineHistory?: number;
  /** Replicas of each stream: 1 on one server, 3 in a cluster. */
  readonly replicas?: number;
}

export function klineStreamConfig(settings: StreamSettings = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: KLINE_STREAM,
    description: 'Closed candles, one message per candle (message id venue:kline:SYMBOL:interval:openTime)',
    subjects: ['md.*.kline.>'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: settings.klineHistory ?? DEFAULT_KLINE_HISTORY,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    allow_direct: true,
    num_replicas: settings.replicas ?? 1,
  };
}

export function candleStreamConfig(settings: StreamSettings = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: CANDLE_STREAM,
    description: "Each kline stream's latest live candle state (open update or stored close)",
    subjects: ['md.*.candle.>'],
    // Live states are replaced every second or two; memory is enough, and a restart loses only
    // what the next update brings back.
    storage: StorageType.Memory,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: 1,
    // No duplicate tracking: states carry no message id, and tracking would cost memory per message.
    duplicate_window: nanos(1_000),
    allow_direct: true,
    num_replicas: settings.replicas ?? 1,
  };
}

/**
 * Creates the bus's streams, or brings an existing one to this configuration (every process that
 * connects may do it: the same configuration is a no-op, and concurrent creators agree).
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  settings: StreamSettings = {},
  /** Only create missing streams, never change existing ones (a process that only reads them). */
  options: { readonly createOnly?: boolean } = {},
): Promise<void> {
  for (const config of [klineStreamConfig(settings), candleStreamConfig(settings)]) {
    await ensureStream(jsm, config, options.createOnly ?? false);
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  createOnly: boolean,
) {
  try {
    await jsm.streams.add(config);
    return;
  } catch (err) {
    // 10058: the name is in use with another configuration (an older one, or another setting).
    if (!(err instanceof JetStreamApiError) || err.code !== 10058) throw err;
    if (createOnly) return;
  }
  const { subjects, storage: _storage, retention: _retention, ...changeable } = config;
  await jsm.streams.update(config.name, { subjects, ...changeable });
}
