import { afterEach } from 'vitest';
import { type SimExchange, type SimExchangeOptions, startSimExchange } from './sim-exchange.js';
import { TestClient } from './test-client.js';

/** Market start shared by the tests that use a manual clock. */
export const TEST_START_MS = Date.UTC(2025, 0, 15, 12, 0, 0);

/**
 * Test support: starts simulated exchanges (manual clock, fixed start, one history day unless
 * overridden) and opens test clients on them; both are closed after each test.
 */
export function testSims(seed: string) {
  let sim: SimExchange | null = null;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await sim?.close();
    sim = null;
  });
  return {
    async start(options: SimExchangeOptions = {}): Promise<SimExchange> {
      sim = await startSimExchange({
        clock: 'manual',
        startMs: TEST_START_MS,
        seed,
        historyDays: 1,
        ...options,
      });
      return sim;
    },
    async connect(path: string, options: { autoPong?: boolean } = {}): Promise<TestClient> {
      if (!sim) throw new Error('start a simulated exchange first');
      const client = await TestClient.open(`${sim.wsUrl}${path}`, options);
      clients.push(client);
      return client;
    },
  };
}
