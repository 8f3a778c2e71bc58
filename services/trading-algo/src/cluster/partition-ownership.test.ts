import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { PARTITIONS } from '@visualgo/bus';
import { createLogger } from '@visualgo/platform';
import { TestNatsServer, waitFor } from '@visualgo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseOwnership, StaticOwnership } from './partition-ownership.js';

const logger = createLogger({ name: 'ownership-test', level: 'silent' });
let server: TestNatsServer;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  server = await TestNatsServer.start();
});

afterAll(async () => {
  for (const nc of connections) if (!nc.isClosed()) await nc.close();
  await server?.stop();
});

async function worker(instance: number) {
  const nc = await connect({ servers: server.url });
  connections.push(nc);
  const ownership = new LeaseOwnership(nc, { instance, instances: 2, ttlMs: 900, logger });
  await ownership.start();
  return { nc, ownership };
}

const evens = Array.from({ length: PARTITIONS / 2 }, (_, i) => i * 2);
const odds = evens.map((p) => p + 1);
const sorted = (s: ReadonlySet<number>) => [...s].sort((a, b) => a - b);

describe('StaticOwnership', () => {
  it('gives instance i of N the partitions p with p mod N = i', () => {
    expect(sorted(new StaticOwnership(1, 2).owned())).toEqual(odds);
    expect(new StaticOwnership(2, 3).owned().size).toBe(21);
  });
});

describe('LeaseOwnership', () => {
  it('splits by preference, takes over a dead worker partitions after a lapse, and hands them back', async () => {
    const a = await worker(0);
    const b = await worker(1);
    await waitFor('each its preferred half', () => sorted(b.ownership.owned()).join() === odds.join(), 5_000);
    expect(sorted(a.ownership.owned())).toEqual(evens);

    // Worker 1 dies: no goodbye, its leases and heartbeat lapse.
    await b.nc.close();
    await waitFor('worker 0 holding every partition', () => a.ownership.owned().size === PARTITIONS, 10_000);

    // It comes back: worker 0 lets its partitions go, and worker 1 takes them.
    const again = await worker(1);
    await waitFor(
      'the odd partitions back with worker 1',
      () =>
        sorted(again.ownership.owned()).join() === odds.join() &&
        sorted(a.ownership.owned()).join() === evens.join(),
      10_000,
    );
    // Never both at once: the two sets are disjoint.
    expect([...a.ownership.owned()].some((p) => again.ownership.owned().has(p))).toBe(false);
    await again.ownership.stop();
    await a.ownership.stop();
    await b.ownership.stop();
  }, 30_000);
});
