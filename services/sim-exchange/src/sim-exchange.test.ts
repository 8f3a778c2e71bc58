import { afterEach, describe, expect, it } from 'vitest';
import { type SimExchange, type SimExchangeOptions, startSimExchange } from './sim-exchange.js';
import { TestClient } from './test-client.js';

const START = Date.UTC(2025, 0, 15, 12, 0, 0);
const running: SimExchange[] = [];
const clients: TestClient[] = [];

async function start(options: SimExchangeOptions): Promise<SimExchange> {
  const sim = await startSimExchange({ clock: 'manual', historyDays: 1, ...options });
  running.push(sim);
  return sim;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function streamFor(sim: SimExchange, ms: number): Promise<string[]> {
  const client = await TestClient.open(
    `${sim.wsUrl}/stream?streams=btcusdt@trade/ethusdt@kline_1m/bnbbtc@aggTrade`,
  );
  clients.push(client);
  sim.advance(ms);
  await client.waitFor(() =>
    client.frames.some((f) => f.includes(`"E":${START + ms},`) && f.includes('"x":true')),
  );
  return client.frames;
}

async function backfill(sim: SimExchange): Promise<unknown> {
  return (await fetch(`${sim.httpUrl}/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=300`)).json();
}

describe('startSimExchange determinism', () => {
  it('two exchanges with the same seed and start stream and serve identical data', async () => {
    const a = await start({ seed: 'same', startMs: START });
    const b = await start({ seed: 'same', startMs: START });
    expect(a.port).not.toBe(b.port);
    const [framesA, framesB] = await Promise.all([streamFor(a, 120_000), streamFor(b, 120_000)]);
    expect(framesA.length).toBeGreaterThan(200);
    expect(framesB).toEqual(framesA);
    expect(await backfill(b)).toEqual(await backfill(a));
  });

  it('a different seed gives a different market', async () => {
    const a = await start({ seed: 'one', startMs: START });
    const b = await start({ seed: 'two', startMs: START });
    expect(await backfill(b)).not.toEqual(await backfill(a));
  });

  it('defaults to the current minute and serves the configured symbols only', async () => {
    const sim = await start({ symbols: ['solusdt'] });
    expect(sim.startMs % 60_000).toBe(0);
    expect(Math.abs(sim.startMs - Date.now())).toBeLessThan(61_000);
    expect(sim.symbols).toEqual(['SOLUSDT']);
    const ok = await fetch(`${sim.httpUrl}/api/v3/klines?symbol=SOLUSDT&interval=1m&limit=3`);
    expect(ok.status).toBe(200);
    const missing = await fetch(`${sim.httpUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3`);
    expect(missing.status).toBe(400);
  });
});
