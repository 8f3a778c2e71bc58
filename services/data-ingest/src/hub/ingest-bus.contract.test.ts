/**
 * The bus contract on data-ingest's in-process bus as the service composes it: the hub is the
 * producer in front of it (each event the suite publishes goes through the candle and trade books
 * first) and the candle store, with the exchange's history behind it, is what replays come from.
 */
import { describeMarketBusContract } from '@visualgo/bus/contract';
import { type Candle, formatStreamName, parseStreamName, type StreamId } from '@visualgo/market';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createIngestHub } from './create-ingest-hub.js';

describeMarketBusContract('data-ingest: the hub publishing, the candle store replaying', async (names) => {
  const streams = names.map((name) => parseStreamName(name)).filter((id): id is StreamId => id !== null);
  // The exchange has every closed candle published (nothing before): books of 10 candles make
  // replays from further back page from it while the suite keeps publishing.
  const exchange = new Map<string, Candle[]>();
  const { hub, bus } = createIngestHub({
    exchange: 'binance-sim',
    streams,
    historyCandles: 10,
    history: {
      latestClosed: async () => [],
      closedBetween: async (id, from, to, _signal, limit) => {
        const rows = (exchange.get(formatStreamName(id)) ?? []).filter(
          (c) => c.openTimeMs >= from && c.openTimeMs <= to,
        );
        return limit === undefined ? rows : rows.slice(0, limit);
      },
      tradesBetween: async () => [],
    },
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
    fillAttempts: 1,
    fillBackoff: { initialMs: 1, maxMs: 1 },
  });
  await hub.loadHistory();
  hub.setConnected(true);
  return {
    bus,
    publish(event) {
      if (event.type === 'candle' && event.candle.closed) {
        const rows = exchange.get(event.stream) ?? [];
        rows.push(event.candle);
        exchange.set(event.stream, rows);
      }
      if (event.type === 'candle') hub.ingestCandle(event.stream, event.candle);
      else if (event.type === 'trade') hub.ingestTrade(event.stream, event.trade);
      // Status events are the hub's own reports; the suite's go on the bus beside them.
      else bus.publish(event);
    },
    close: () => hub.stop(),
  };
});
