import type { StreamId } from '@visualgo/market';
import { describe, expect, it } from 'vitest';
import { ownedShards, planShards, rolloverAgeMs } from './shard-plan.js';

const streams = (symbols: number): StreamId[] =>
  Array.from({ length: symbols }, (_, i) => `S${String(i).padStart(4, '0')}USDT`).flatMap((symbol) => [
    { kind: 'kline', symbol, interval: '1m' } as const,
    { kind: 'kline', symbol, interval: '5m' } as const,
    { kind: 'trade', symbol } as const,
  ]);

describe('planShards', () => {
  it('cuts ~2,000 symbols x 7 streams into shards of at most 500, each stream in exactly one', () => {
    const all = Array.from({ length: 2_000 }, (_, i) => `S${String(i).padStart(4, '0')}USDT`).flatMap(
      (symbol) =>
        (['1m', '3m', '5m', '15m', '1h', '4h', '1d'] as const).map(
          (interval) => ({ kind: 'kline', symbol, interval }) as const,
        ),
    );
    const plan = planShards(all, 500, 4);
    expect(plan).toHaveLength(28);
    expect(plan.every((s) => s.streams.length <= 500)).toBe(true);
    const names = plan.flatMap((s) => s.streams);
    expect(new Set(names).size).toBe(14_000);
  });

  it('gives every shard two different owners, and every instance its share', () => {
    const plan = planShards(streams(1_000), 200, 3);
    expect(plan).toHaveLength(15);
    for (const shard of plan) {
      expect(shard.owners).toHaveLength(2);
      expect(new Set(shard.owners).size).toBe(2);
    }
    const owned = [0, 1, 2].map((i) => ownedShards(plan, i).length);
    expect(owned).toEqual([10, 10, 10]);
    // Without any one instance, every shard still has an owner.
    for (const gone of [0, 1, 2]) expect(plan.every((s) => s.owners.some((o) => o !== gone))).toBe(true);
  });

  it('is the same plan in every instance, whatever order the streams were listed in', () => {
    const list = streams(300);
    expect(planShards([...list].reverse(), 100, 2)).toEqual(planShards(list, 100, 2));
  });

  it('gives one owner when there is one instance, both instances every shard when there are two', () => {
    expect(planShards(streams(10), 7, 1).every((s) => s.owners.join() === '0')).toBe(true);
    const two = planShards(streams(10), 7, 2);
    expect(ownedShards(two, 0)).toHaveLength(two.length);
    expect(ownedShards(two, 1)).toHaveLength(two.length);
  });
});

describe('rolloverAgeMs', () => {
  it('spreads rollovers below the age cap, the two owners of a shard half the spread apart', () => {
    const hour = 3_600_000;
    const ages = [0, 1, 2, 3].flatMap((shard) =>
      [0, 1].map((rank) => rolloverAgeMs(shard, rank, 4, 23 * hour, 2 * hour)),
    );
    expect(new Set(ages).size).toBe(8);
    expect(Math.max(...ages)).toBe(23 * hour);
    expect(Math.min(...ages)).toBe(23 * hour - (2 * hour * 7) / 8);
    expect(rolloverAgeMs(1, 0, 4, 23 * hour, 2 * hour) - rolloverAgeMs(1, 1, 4, 23 * hour, 2 * hour)).toBe(
      hour,
    );
  });
});
