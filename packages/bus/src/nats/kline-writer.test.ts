import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { type Candle, candleIndexOf, openTimeOfCandleIndex } from '@visualgo/market';
import { TestNatsServer, testCandle } from '@visualgo/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CandleEvent, candleEvent } from '../market-event.js';
import { decodeEvent, encodeEvent } from './event-codec.js';
import { KlineWriter } from './kline-writer.js';
import { CANDLE_STREAM, ensureStreams, KLINE_STREAM } from './nats-streams.js';
import { klineSubject } from './nats-subjects.js';

const T0 = Date.UTC(2024, 2, 4);
const BASE = candleIndexOf('1m', T0);
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBBTC'];

function closed(symbol: string, k: number): CandleEvent {
  const openTimeMs = openTimeOfCandleIndex('1m', BASE + k);
  return candleEvent(`${symbol.toLowerCase()}@kline_1m`, testCandle({ symbol, openTimeMs, close: 100 + k }));
}

let server: TestNatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await TestNatsServer.start();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

beforeEach(async () => {
  for (const name of [KLINE_STREAM, CANDLE_STREAM]) await jsm.streams.delete(name).catch(() => false);
  await ensureStreams(jsm);
});

const writer = () => new KlineWriter(js, jsm, { venue: 'binance-sim', alive: () => true });

/** Every candle stored for a symbol, in store order. */
async function stored(symbol: string): Promise<Candle[]> {
  const subject = klineSubject('binance-sim', symbol, '1m');
  const out: Candle[] = [];
  for (let seq = 1; ; ) {
    const msg = await jsm.direct.getMessage(KLINE_STREAM, { seq, next_by_subj: subject });
    if (!msg) return out;
    const event = decodeEvent(msg.data);
    if (event.type === 'candle') out.push(event.candle);
    seq = msg.seq + 1;
  }
}

const indices = (candles: readonly Candle[]) => candles.map((c) => candleIndexOf('1m', c.openTimeMs) - BASE);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('KlineWriter', () => {
  it('stores each candle once and in order when two producers store the same candles at once', async () => {
    const a = writer();
    const b = writer();
    const batches = range(0, 9).map((batch) =>
      range(batch * 10, batch * 10 + 9).flatMap((k) => SYMBOLS.map((s) => closed(s, k))),
    );
    const run = async (w: KlineWriter) => {
      for (const batch of batches) await w.store(batch);
    };
    await Promise.all([run(a), run(b)]);
    for (const symbol of SYMBOLS) expect(indices(await stored(symbol))).toEqual(range(0, 99));
  });

  it('reports what it stored, what was there and what was older than the store', async () => {
    const a = writer();
    expect(await a.store(range(0, 5).map((k) => closed('BTCUSDT', k)))).toEqual(Array(6).fill('stored'));
    // A producer that comes late, with no idea of what is stored.
    const late = writer();
    expect(await late.store([closed('BTCUSDT', 3), closed('BTCUSDT', 5), closed('BTCUSDT', 6)])).toEqual([
      'stale',
      'present',
      'stored',
    ]);
    expect(indices(await stored('BTCUSDT'))).toEqual(range(0, 6));
  });

  it('does not store again a candle whose message id the store has forgotten (past the duplicate window)', async () => {
    const a = writer();
    await a.store([closed('ETHUSDT', 0), closed('ETHUSDT', 1)]);
    // Another producer stored candle 2 long ago: the duplicate window no longer knows its id.
    const subject = klineSubject('binance-sim', 'ETHUSDT', '1m');
    await js.publish(subject, encodeEvent(closed('ETHUSDT', 2)));
    // `a` still believes candle 1 is the newest stored, and publishes candle 2 and 3.
    expect(await a.store([closed('ETHUSDT', 2), closed('ETHUSDT', 3)])).toEqual(['present', 'stored']);
    expect(indices(await stored('ETHUSDT'))).toEqual(range(0, 3));
  });

  it('keeps a stream in order when a producer fills a gap after another stored past it', async () => {
    const a = writer();
    const b = writer();
    await a.store([closed('BNBBTC', 0)]);
    await b.store([closed('BNBBTC', 0)]);
    // `a` moves on past 1 (it declared it unfillable); `b` fills 1 afterwards.
    await a.store([closed('BNBBTC', 2), closed('BNBBTC', 3)]);
    // Both older than the newest stored (3): storing them would break the order readers rely on.
    expect(await b.store([closed('BNBBTC', 1), closed('BNBBTC', 2), closed('BNBBTC', 4)])).toEqual([
      'stale',
      'stale',
      'stored',
    ]);
    expect(indices(await stored('BNBBTC'))).toEqual([0, 2, 3, 4]);
  });

  it('stores a start-up history only where it joins the store, never past a hole no one could fill', async () => {
    // Two owners start: each looked at the store while it was empty and fetched its own history,
    // one from candle 0, the other (a moment later) from candle 17.
    const a = writer();
    const b = writer();
    expect(
      await a.storeJoined(
        range(0, 5).map((k) => closed('BTCUSDT', k)),
        null,
      ),
    ).toEqual(Array(6).fill('stored'));
    // Appended as it was, b's history would leave 6..16 out for good (a writer never stores a
    // candle older than the newest): it is refused, so b looks again.
    expect(
      await b.storeJoined(
        range(17, 20).map((k) => closed('BTCUSDT', k)),
        null,
      ),
    ).toBeNull();
    expect(indices(await stored('BTCUSDT'))).toEqual(range(0, 5));
    const newest = (await stored('BTCUSDT')).at(-1) as Candle;
    const msg = await jsm.direct.getMessage(KLINE_STREAM, {
      last_by_subj: klineSubject('binance-sim', 'BTCUSDT', '1m'),
    });
    // Joined (what lies between fetched): stored after the newest, with what was there already.
    const outcomes = await b.storeJoined(
      range(3, 20).map((k) => closed('BTCUSDT', k)),
      { streamSeq: msg?.seq ?? 0, openTimeMs: newest.openTimeMs },
    );
    expect(outcomes).toEqual([...Array(2).fill('stale'), 'present', ...Array(15).fill('stored')]);
    expect(indices(await stored('BTCUSDT'))).toEqual(range(0, 20));
  });
});
