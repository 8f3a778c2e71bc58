import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { PARTITIONS } from '@visualgo/bus';
import type { Logger } from '@visualgo/platform';

/** Which partitions a worker processes; tells when that changes. */
export interface PartitionOwnership {
  owned(): ReadonlySet<number>;
  /** Called with the new set each time it changes (after `start`). */
  onChange(listener: (owned: ReadonlySet<number>) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Instance `i` of `n` owns every partition p with p mod n = i: nothing to agree on, nothing to take over. */
export class StaticOwnership implements PartitionOwnership {
  private readonly set: ReadonlySet<number>;

  constructor(instance: number, instances: number) {
    this.set = new Set(
      Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % instances === instance),
    );
  }

  owned(): ReadonlySet<number> {
    return this.set;
  }

  onChange(): void {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}

/** The KV bucket of partition leases and worker heartbeats. */
export const LEASE_BUCKET = 'algo_leases';

export interface LeaseOptions {
  readonly instance: number;
  readonly instances: number;
  /** A lease or heartbeat not refreshed for this long lapses (the bucket's TTL). Default 6 s. */
  readonly ttlMs?: number;
  readonly replicas?: number;
  readonly logger: Logger;
}

/**
 * Partitions held by lease in NATS KV (server 2.9: a bucket-wide TTL, compare-and-set by revision):
 * each partition prefers its static owner (p mod N); a live worker takes over the partitions of a
 * worker whose heartbeat lapsed, and hands them back once it is alive again. A lease is created
 * only when free (`create` fails if held) and refreshed only by its holder (`update` at the
 * revision it holds), so two workers never both believe they hold one for longer than a lapse.
 */
export class LeaseOwnership implements PartitionOwnership {
  private kv: KV | null = null;
  private readonly held = new Map<number, number>();
  private readonly listeners = new Set<(owned: ReadonlySet<number>) => void>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private readonly ttlMs: number;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: LeaseOptions,
  ) {
    this.ttlMs = options.ttlMs ?? 6_000;
  }

  owned(): ReadonlySet<number> {
    return new Set(this.held.keys());
  }

  onChange(listener: (owned: ReadonlySet<number>) => void): void {
    this.listeners.add(listener);
  }

  async start(): Promise<void> {
    this.kv = await new Kvm(this.nc).create(LEASE_BUCKET, {
      history: 1,
      ttl: this.ttlMs,
      replicas: this.options.replicas ?? 1,
    });
    await this.tick();
    this.timer = setInterval(
      () => {
        this.ticking = this.ticking.then(() => this.tick());
      },
      Math.max(100, Math.floor(this.ttlMs / 3)),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    const kv = this.kv;
    if (!kv) return;
    // Hands the partitions back at once rather than after a lapse.
    for (const p of this.held.keys()) await kv.delete(`partition.${p}`).catch(() => {});
    await kv.delete(`instance.${this.options.instance}`).catch(() => {});
    this.held.clear();
  }

  private async tick(): Promise<void> {
    const kv = this.kv;
    if (!kv || this.stopped) return;
    const { instance, instances, logger } = this.options;
    const before = [...this.held.keys()].sort((a, b) => a - b).join();
    try {
      await kv.put(`instance.${instance}`, String(Date.now()));
      const alive = new Set<number>();
      for (let i = 0; i < instances; i++) {
        const entry = await kv.get(`instance.${i}`);
        if (entry?.operation === 'PUT') alive.add(i);
      }
      for (let p = 0; p < PARTITIONS; p++) {
        const preferred = p % instances;
        const key = `partition.${p}`;
        const revision = this.held.get(p);
        if (revision !== undefined) {
          if (preferred !== instance && alive.has(preferred)) {
            this.held.delete(p);
            await kv.delete(key);
            continue;
          }
          try {
            this.held.set(p, await kv.update(key, String(instance), revision));
          } catch {
            // Lapsed and taken, or deleted: no longer ours.
            this.held.delete(p);
          }
        } else if (preferred === instance || !alive.has(preferred)) {
          try {
            this.held.set(p, await kv.create(key, String(instance)));
          } catch {
            // Held by another worker.
          }
        }
      }
    } catch (err) {
      logger.warn({ err }, 'partition leases not refreshed');
    }
    const after = [...this.held.keys()].sort((a, b) => a - b).join();
    if (after !== before) {
      const owned = this.owned();
      for (const listener of this.listeners) listener(owned);
    }
  }
}
