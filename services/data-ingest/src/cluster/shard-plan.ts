import { partitionOf } from '@visualgo/bus';
import { formatStreamName, type StreamId } from '@visualgo/market';

/** One upstream connection's worth of streams, and the instances that open it. */
export interface Shard {
  readonly index: number;
  /** Stream names, at most the per-connection limit. */
  readonly streams: readonly string[];
  /** Instances owning it: two when there are two or more instances (active-active), else one. */
  readonly owners: readonly number[];
}

/**
 * Cuts the streams into shards of at most `maxPerConnection` (one exchange connection each) and
 * gives each shard two owners among `instances`: shard s goes to instances s mod N and
 * (s + 1) mod N, so every instance owns about 2/N of the shards and any one can die without a
 * shard losing its last owner. Every instance computes the same plan from the same settings:
 * streams are ordered by partition, symbol and name, which keeps a symbol's streams together.
 */
export function planShards(
  streams: readonly StreamId[],
  maxPerConnection: number,
  instances: number,
): Shard[] {
  if (!(Number.isInteger(maxPerConnection) && maxPerConnection >= 1))
    throw new RangeError('maxPerConnection must be a positive integer');
  if (!(Number.isInteger(instances) && instances >= 1))
    throw new RangeError('instances must be a positive integer');
  const ordered = [...streams]
    .map((id) => ({ id, name: formatStreamName(id), partition: partitionOf(id.symbol) }))
    .sort(
      (a, b) =>
        a.partition - b.partition || a.id.symbol.localeCompare(b.id.symbol) || a.name.localeCompare(b.name),
    );
  const shards: Shard[] = [];
  for (let i = 0; i < ordered.length; i += maxPerConnection) {
    const index = shards.length;
    const owners = instances === 1 ? [0] : [index % instances, (index + 1) % instances];
    shards.push({ index, streams: ordered.slice(i, i + maxPerConnection).map((s) => s.name), owners });
  }
  return shards;
}

/** The shards `instance` owns, in plan order, and its rank among each one's owners (0 or 1). */
export function ownedShards(plan: readonly Shard[], instance: number): { shard: Shard; rank: number }[] {
  return plan.flatMap((shard) => {
    const rank = shard.owners.indexOf(instance);
    return rank < 0 ? [] : [{ shard, rank }];
  });
}

/**
 * The planned rollover age of an owner's connection: spread over `spreadMs` below `maxAgeMs` so
 * that connections opened together (at start) do not all roll over together, and the two owners
 * of a shard half the spread apart (one of them always has an established connection).
 */
export function rolloverAgeMs(
  shard: number,
  rank: number,
  shards: number,
  maxAgeMs: number,
  spreadMs: number,
): number {
  const slots = Math.max(1, shards) * 2;
  const slot = shard + rank * Math.max(1, shards);
  return Math.round(maxAgeMs - (spreadMs * slot) / slots);
}
