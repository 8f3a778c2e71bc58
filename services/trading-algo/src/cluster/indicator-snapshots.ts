import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ExchangeId, IndicatorSetState } from '@visualgo/market';
import { parseStreamName } from '@visualgo/market';

/** The KV bucket of indicator states: key `<venue>.<interval>.<SYMBOL>`. */
export const STATE_BUCKET = 'algo_state';

/** A stream's saved indicator state. */
export interface SavedState {
  readonly stream: string;
  readonly state: IndicatorSetState;
  readonly savedAtMs: number;
}

const UTF8_OUT = new TextEncoder();
const UTF8_IN = new TextDecoder();

/**
 * JSON that keeps the state's non-finite numbers (±∞ period bounds, NaN before the first candle)
 * as the strings "Infinity", "-Infinity", "NaN"; every finite number round-trips exactly.
 */
export function encodeState(saved: SavedState): Uint8Array {
  return UTF8_OUT.encode(
    JSON.stringify(saved, (_key, value) =>
      typeof value === 'number' && !Number.isFinite(value) ? String(value) : value,
    ),
  );
}

export function decodeState(data: Uint8Array): SavedState | null {
  let value: unknown;
  try {
    value = JSON.parse(UTF8_IN.decode(data), (_key, v) =>
      v === 'NaN' || v === 'Infinity' || v === '-Infinity' ? Number(v) : v,
    );
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const saved = value as Partial<SavedState>;
  const state = saved.state as Partial<IndicatorSetState> | undefined;
  // The shape is checked when the state is restored (IndicatorSet.restore); these are what a
  // decoder can check without knowing the indicators.
  if (typeof saved.stream !== 'string' || typeof saved.savedAtMs !== 'number') return null;
  if (state?.version !== 1 || !Array.isArray(state.chains) || typeof state.config !== 'object') return null;
  return saved as SavedState;
}

function keyOf(venue: ExchangeId, stream: string): string {
  const id = parseStreamName(stream);
  if (id?.kind !== 'kline') throw new RangeError(`${stream} is not a kline stream`);
  return `${venue}.${id.interval}.${id.symbol}`;
}

/** Indicator states in NATS KV, so a worker that restarts, or takes a partition over, continues where the last one was. */
export class IndicatorSnapshots {
  private constructor(private readonly kv: KV) {}

  static async open(
    nc: NatsConnection,
    options: { readonly replicas?: number } = {},
  ): Promise<IndicatorSnapshots> {
    const kv = await new Kvm(nc).create(STATE_BUCKET, { history: 1, replicas: options.replicas ?? 1 });
    return new IndicatorSnapshots(kv);
  }

  async save(venue: ExchangeId, saved: SavedState): Promise<void> {
    await this.kv.put(keyOf(venue, saved.stream), encodeState(saved));
  }

  /** The saved state of a stream, or null when there is none (or it cannot be read). */
  async load(venue: ExchangeId, stream: string): Promise<SavedState | null> {
    const entry = await this.kv.get(keyOf(venue, stream));
    if (entry?.operation !== 'PUT') return null;
    const saved = decodeState(entry.value);
    return saved && saved.stream === stream ? saved : null;
  }
}
