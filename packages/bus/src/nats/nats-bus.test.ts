import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { TestNatsServer } from '@visualgo/testing';
import { afterAll, beforeAll } from 'vitest';
import { describeMarketBusContract } from '../contract/market-bus-contract.js';
import { NatsBus } from './nats-bus.js';
import { CANDLE_STREAM, KLINE_STREAM } from './nats-streams.js';

let server: TestNatsServer;

beforeAll(async () => {
  server = await TestNatsServer.start();
});

afterAll(async () => {
  await server?.stop();
});

/** Every test of the suite starts from empty streams (and an empty duplicate window). */
async function deleteStreams(): Promise<void> {
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [KLINE_STREAM, CANDLE_STREAM]) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}

describeMarketBusContract('NatsBus, one bus publishing and subscribing', async () => {
  await deleteStreams();
  const bus = await NatsBus.connect({ servers: server.url, name: 'contract' }, { venue: 'binance-sim' });
  return { bus, publish: (event) => bus.publish(event), close: () => bus.close() };
});

/**
 * Two producers publish the same market data, as two data-ingest instances owning one upstream
 * shard do; the subscriber's bus is one of them. Every candle and trade reaches the store and the
 * subscribers once. (Status events are each producer's own report, so only one publishes them.)
 */
describeMarketBusContract('NatsBus, two producers of the same streams', async () => {
  await deleteStreams();
  const bus = await NatsBus.connect({ servers: server.url, name: 'contract-a' }, { venue: 'binance-sim' });
  const other = await NatsBus.connect({ servers: server.url, name: 'contract-b' }, { venue: 'binance-sim' });
  return {
    bus,
    publish(event) {
      if (event.type !== 'status') other.publish(event);
      bus.publish(event);
    },
    async close() {
      await other.close();
      await bus.close();
    },
  };
});
