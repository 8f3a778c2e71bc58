/**
 * The cluster's nats-server configuration (`scripts/nats-server.conf`, which `npm run
 * demo:cluster` runs): each role's user may do its work and nothing that belongs to another.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { REPO_ROOT, TestNatsServer, testCandle, waitFor } from '@visualgo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { candleEvent } from '../market-event.js';
import { connectNats, NatsBus } from './nats-bus.js';

const STREAM = 'btcusdt@kline_1m';
let server: TestNatsServer;
const closers: (() => Promise<void>)[] = [];

const as = (user: string, password: string) => `nats://${user}:${password}@127.0.0.1:${server.port}`;

beforeAll(async () => {
  server = await TestNatsServer.start({ configFile: `${REPO_ROOT}scripts/nats-server.conf` });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await server?.stop();
});

/** Permission errors the server sent this connection. */
function violations(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') seen.push(String(s.error));
  })();
  return seen;
}

describe('the cluster nats-server configuration', () => {
  it('lets data-ingest publish and store market data, and a gateway read it but publish none', async () => {
    await expect(
      connect({ servers: `127.0.0.1:${server.port}`, user: 'gateway', pass: 'wrong' }),
    ).rejects.toThrow(/Authorization Violation/);
    // The credentials in the URL are the user's (NATS_URL=nats://user:password@host:port).
    const nc = await connectNats({ servers: as('gateway', 'demo-gateway-secret') });
    await nc.close();

    const ingest = await NatsBus.connect(
      { servers: as('data-ingest', 'demo-ingest-secret'), name: 'data-ingest' },
      { venue: 'binance-sim' },
    );
    closers.push(() => ingest.close());
    const gateway = await NatsBus.connect(
      { servers: as('gateway', 'demo-gateway-secret'), name: 'gateway' },
      { venue: 'binance-sim', manageStreams: 'create' },
    );
    closers.push(() => gateway.close());
    const denied = violations(gateway.connection);

    // data-ingest stores a closed candle; the gateway reads it back from the store.
    const openTimeMs = Date.UTC(2024, 2, 4);
    ingest.publish(candleEvent(STREAM, testCandle({ symbol: 'BTCUSDT', openTimeMs })));
    await ingest.flush();
    expect((await gateway.history.newest(STREAM))?.candle.openTimeMs).toBe(openTimeMs);

    // A gateway publishing market data: refused by the server, seen by no one, stored nowhere.
    const heard: string[] = [];
    const observer = await connect({
      servers: `127.0.0.1:${server.port}`,
      user: 'trading-algo',
      pass: 'demo-algo-secret',
    });
    closers.push(() => observer.close());
    const watch = observer.subscribe('md.>', {
      callback: (_e, m) => {
        heard.push(m.subject);
      },
    });
    await observer.flush();
    const subject = 'md.binance-sim.kline.1m.BTCUSDT.44';
    const forged = candleEvent(STREAM, testCandle({ symbol: 'BTCUSDT', openTimeMs: openTimeMs + 60_000 }));
    gateway.connection.publish(subject, JSON.stringify(forged));
    await gateway.connection.flush();
    await waitFor('the permission violation', () => denied.some((e) => e.includes('Permissions Violation')));
    expect(denied.join('\n')).toContain(`Publish to "${subject}"`);
    // data-ingest may: its marker is heard, the forged candle was not.
    ingest.connection.publish('md.binance-sim.status.-.-.0', '{}');
    await waitFor('the marker', () => heard.includes('md.binance-sim.status.-.-.0'));
    expect(heard.filter((s) => s.includes('.kline.'))).toEqual([]);
    expect((await gateway.history.newest(STREAM))?.candle.openTimeMs).toBe(openTimeMs);
    watch.unsubscribe();
  });
});
