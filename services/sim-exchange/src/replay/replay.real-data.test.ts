/**
 * The exchange replaying two real days of Binance ETHUSDT 1m klines (2022-08-14/15, Binance
 * public data) from ../shared/data: REST history before the replay position, live kline updates
 * after it ending on the recorded rows, across midnight, at a manual clock and as fast as a
 * client takes it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type BinanceKlineEvent,
  binanceCombinedFrame,
  binanceExchangeInfo,
  binanceKlineEvent,
  binanceKlineRows,
  binanceRestError,
} from '@visualgo/contracts';
import { describe, expect, it } from 'vitest';
import type { SimExchange } from '../sim-exchange.js';
import { testSims } from '../test-sim.js';

const DATA_DIR = fileURLToPath(
  new URL('../../../../../shared/data/binance-spot-ethusdt-1m/', import.meta.url),
);
const HAVE_DATA = existsSync(DATA_DIR);
if (!HAVE_DATA) console.warn(`replay real-data tests: Binance klines not found at ${DATA_DIR}; skipped`);

/** The files' rows as REST rows: numbers for times and counts, strings for decimals. */
function fileRows(): (string | number)[][] {
  return readdirSync(DATA_DIR)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .flatMap((f) => readFileSync(`${DATA_DIR}${f}`, 'utf8').trim().split('\n'))
    .map((line) => line.split(',').map((v, i) => (i === 0 || i === 6 || i === 8 ? Number(v) : v)));
}

const START = Date.UTC(2022, 7, 14, 16, 40);
const MIDNIGHT = Date.UTC(2022, 7, 15);
const END = Date.UTC(2022, 7, 16);
const { start, connect } = testSims('replay-real');
const replayAt = (startMs: number, extra = {}) => start({ replay: [DATA_DIR], startMs, ...extra });

async function klines(sim: SimExchange, query: string): Promise<(string | number)[][]> {
  const res = await fetch(`${sim.httpUrl}/api/v3/klines?symbol=ETHUSDT&interval=1m&${query}`);
  expect(res.status).toBe(200);
  return binanceKlineRows.parse(await res.json());
}

function finals(frames: readonly string[]): BinanceKlineEvent['k'][] {
  return frames
    .map((f) => binanceCombinedFrame.parse(JSON.parse(f)))
    .filter((f) => f.stream === 'ethusdt@kline_1m')
    .map((f) => binanceKlineEvent.parse(f.data).k)
    .filter((k) => k.x);
}

const asRow = (k: BinanceKlineEvent['k']) => [k.t, k.o, k.h, k.l, k.c, k.v, k.T, k.q, k.n, k.V, k.Q, '0'];

describe.skipIf(!HAVE_DATA)('replaying two real days of ETHUSDT 1m', () => {
  const rows = HAVE_DATA ? fileRows() : [];
  const index = (openTimeMs: number) => rows.findIndex((r) => r[0] === openTimeMs);

  it('serves the history before the replay position from REST, with Binance paging, the last row still open', async () => {
    const sim = await replayAt(START, { clock: 'manual' });
    expect(sim.status()).toMatchObject({
      market: 'replay',
      marketTimeMs: START,
      originMs: Date.UTC(2022, 7, 14),
      replay: { streams: ['ethusdt@kline_1m'], firstMs: Date.UTC(2022, 7, 14), endMs: END, finished: false },
    });
    const latest = await klines(sim, 'limit=1000');
    expect(latest).toHaveLength(1000);
    const at = index(START);
    expect(latest.slice(0, 999)).toEqual(rows.slice(at - 999, at));
    // The candle opening now has just opened: nothing of its row is known yet but its open.
    const open = rows[at] as (string | number)[];
    expect(latest[999]).toEqual([
      START,
      open[1],
      open[1],
      open[1],
      open[1],
      '0.00000000',
      START + 59_999,
      '0.00000000',
      0,
      '0.00000000',
      '0.00000000',
      '0',
    ]);
    expect(await klines(sim, `startTime=${Date.UTC(2022, 7, 14)}&limit=1000`)).toEqual(rows.slice(0, 1000));
    expect(
      await klines(sim, `startTime=${Date.UTC(2022, 7, 14, 16)}&endTime=${Date.UTC(2022, 7, 14, 16, 9)}`),
    ).toEqual(rows.slice(index(Date.UTC(2022, 7, 14, 16)), index(Date.UTC(2022, 7, 14, 16, 10))));
    // Never the future: an end time past now stops at now.
    expect((await klines(sim, `startTime=${START - 60_000}&endTime=${END}`)).map((r) => r[0])).toEqual([
      START - 60_000,
      START,
    ]);
    const time = await (await fetch(`${sim.httpUrl}/api/v3/time`)).json();
    expect(time).toEqual({ serverTime: START });
  });

  it('plays the candles across midnight, each final update equal to its row, after a few intermediate ones', async () => {
    const sim = await replayAt(START, { clock: 'manual' });
    const client = await connect(
      '/stream?streams=ethusdt@kline_1m/ethusdt@trade/ethusdt@kline_5m/btcusdt@kline_1m/ethusdt@aggTrade',
    );
    const until = MIDNIGHT + 30 * 60_000;
    sim.advance(until - START);
    const minutes = (until - START) / 60_000;
    await client.waitForFrames(minutes * 30, 10_000);
    const frames = client.frames.map((f) => binanceCombinedFrame.parse(JSON.parse(f)));
    // Streams the files lack stay silent, as Binance's streams of unknown symbols do.
    expect(new Set(frames.map((f) => f.stream))).toEqual(new Set(['ethusdt@kline_1m']));
    const updates = frames.map((f) => binanceKlineEvent.parse(f.data));
    expect(updates).toHaveLength(minutes * 30);
    const closed = updates.filter((u) => u.k.x);
    expect(closed.map((u) => asRow(u.k))).toEqual(rows.slice(index(START), index(until)));
    expect(closed.every((u) => u.E === u.k.T + 1 && u.k.f === -1 && u.k.L === -1)).toBe(true);
    for (let c = 0; c < minutes; c++) {
      const candle = updates.slice(c * 30, c * 30 + 30);
      const row = rows[index(START + c * 60_000)] as (string | number)[];
      const states = new Set(candle.map((u) => JSON.stringify(asRow(u.k))));
      expect(states.size).toBeGreaterThanOrEqual(3);
      const volumes = candle.map((u) => Number(u.k.v));
      expect(volumes).toEqual([...volumes].sort((a, b) => a - b));
      for (const u of candle) {
        expect(u.k.o).toBe(row[1]);
        expect(Number(u.k.h)).toBeLessThanOrEqual(Number(row[2]));
        expect(Number(u.k.l)).toBeGreaterThanOrEqual(Number(row[3]));
      }
      expect(candle[28]?.k.c).toBe(row[4]); // the last quarter closes at the recorded close
    }
    expect(sim.truth.klineRows('ethusdt@kline_1m', { startTimeMs: START })).toEqual(
      rows.slice(index(START), index(until)),
    );
    expect(sim.truth.candles('ethusdt@kline_1m', { startTimeMs: MIDNIGHT, endTimeMs: MIDNIGHT })).toEqual([
      expect.objectContaining({
        exchange: 'binance-sim',
        openTimeMs: MIDNIGHT,
        close: Number(rows[index(MIDNIGHT)]?.[4]),
        trades: rows[index(MIDNIGHT)]?.[8],
        closed: true,
      }),
    ]);
  });

  it('refuses what the files lack the way Binance refuses unknown symbols, and lists what they have', async () => {
    const sim = await replayAt(START, { clock: 'manual' });
    const get = async (path: string) => {
      const res = await fetch(`${sim.httpUrl}${path}`);
      return [res.status, binanceRestError.safeParse(await res.json()).data?.code];
    };
    expect(await get('/api/v3/klines?symbol=BTCUSDT&interval=1m')).toEqual([400, -1121]);
    expect(await get('/api/v3/klines?symbol=ETHUSDT&interval=5m')).toEqual([400, -1120]);
    expect(await get('/api/v3/trades?symbol=ETHUSDT')).toEqual([400, -1121]);
    expect(await get('/api/v3/historicalTrades?symbol=ETHUSDT&fromId=1')).toEqual([400, -1121]);
    const info = binanceExchangeInfo.parse(await (await fetch(`${sim.httpUrl}/api/v3/exchangeInfo`)).json());
    expect(info.symbols.map((s) => [s.symbol, s.baseAsset, s.quoteAsset])).toEqual([
      ['ETHUSDT', 'ETH', 'USDT'],
    ]);
    expect(info.symbols[0]?.filters).toContainEqual(
      expect.objectContaining({ filterType: 'PRICE_FILTER', tickSize: '0.01000000' }),
    );
    expect(info.symbols[0]?.filters).toContainEqual(
      expect.objectContaining({ filterType: 'LOT_SIZE', stepSize: '0.00010000' }),
    );
  });

  it('stops at the end of the data, the last candle closed', async () => {
    const sim = await replayAt(END - 5 * 60_000, { clock: 'manual' });
    const client = await connect('/ws/ethusdt@kline_1m');
    sim.advance(3_600_000);
    expect(sim.marketNowMs()).toBe(END);
    expect(sim.status().replay?.finished).toBe(true);
    await client.waitFor(() =>
      client.frames.some((f) => f.includes(`"t":${END - 60_000},`) && f.includes('"x":true')),
    );
    expect(client.frames).toHaveLength(5 * 30);
    expect(await klines(sim, 'limit=2')).toEqual(rows.slice(-2));
  });

  it('as fast as the client takes it: market time waits for a client, then runs to the end', async () => {
    const sim = await replayAt(Date.UTC(2022, 7, 15, 20), { clock: 'scaled', speed: 'max' });
    expect(sim.status()).toMatchObject({ clock: 'paced', speed: 'max' });
    await klines(sim, 'limit=1'); // a REST round trip: the pump has had its turns
    expect(sim.marketNowMs()).toBe(Date.UTC(2022, 7, 15, 20));
    const client = await connect('/stream?streams=ethusdt@kline_1m');
    const lastFinal = `"t":${END - 60_000},`;
    await client.waitFor(
      () =>
        (client.frames.at(-1) ?? '').includes(lastFinal) &&
        client.frames.at(-1)?.includes('"x":true') === true,
      15_000,
      'the last candle of the data',
    );
    expect(sim.status().replay?.finished).toBe(true);
    expect(finals(client.frames).map(asRow)).toEqual(rows.slice(index(Date.UTC(2022, 7, 15, 20))));
  });

  it('as fast as the client takes it: a stalled only client holds the market, losing nothing', async () => {
    const sim = await replayAt(Date.UTC(2022, 7, 15, 20), { clock: 'scaled', speed: 'max' });
    const client = await connect('/ws/ethusdt@kline_1m');
    await client.waitForFrames(100);
    sim.stallConnections({ durationMs: 60_000 });
    const held = sim.marketNowMs();
    await klines(sim, 'limit=1');
    await klines(sim, 'limit=1');
    expect(sim.marketNowMs()).toBe(held);
    sim.unstallConnections();
    // Every 2 s tick from the start to the end, once: the stall lost nothing.
    await client.waitFor(() => client.frames.length >= 4 * 60 * 30, 15_000, 'every update to the end');
    const from = Date.UTC(2022, 7, 15, 20);
    expect(client.frames.map((f) => binanceKlineEvent.parse(JSON.parse(f)).E)).toEqual(
      Array.from({ length: 4 * 60 * 30 }, (_, i) => from + 2_000 * (i + 1)),
    );
    expect(sim.status().replay?.finished).toBe(true);
  });

  it('rejects a start outside the data', async () => {
    await expect(replayAt(END)).rejects.toThrow(
      'replay start 2022-08-16T00:00:00.000Z is outside the data, which runs from 2022-08-14T00:00:00.000Z to 2022-08-16T00:00:00.000Z',
    );
  });
});
