/**
 * End to end against the simulated exchange, which writes Binance's frames from its own exact
 * integers: what data-ingest's Binance-compatible endpoints send is byte for byte what the exchange
 * sent. The frames cross the exchange adapter (schemas, mapper), the hub, the bus as
 * exchange-neutral events, and are rendered again by the WebSocket edge.
 */
import { type IngestService, ingestConfigSchema, startIngestService } from '@visualgo/data-ingest';
import { loadConfig } from '@visualgo/platform';
import { type SimExchange, startSimExchange } from '@visualgo/sim-exchange';
import { waitFor } from '@visualgo/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const STREAMS = 'ethusdt@kline_1m/ethusdt@trade';

let sim: SimExchange;
let ingest: IngestService;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  // 600x: a one-minute candle closes every 100 ms of wall time.
  sim = await startSimExchange({ port: 0, speed: 600, symbols: ['ETHUSDT'], historyDays: 1 });
  const config = loadConfig(ingestConfigSchema, {
    MARKET_SOURCE: 'sim',
    SIM_URL: sim.httpUrl,
    SYMBOLS: 'ethusdt',
    INTERVALS: '1m',
    HISTORY_CANDLES: '100',
    INGEST_HOST: '127.0.0.1',
    INGEST_GRPC_PORT: '0',
    INGEST_HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
  });
  ingest = await startIngestService(config, pino({ level: 'silent' }));
  await ingest.ready;
}, 30_000);

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await ingest?.close();
  await sim?.close();
});

/** A WebSocket client that keeps every frame it receives, as text. */
async function record(url: string): Promise<string[]> {
  const frames: string[] = [];
  const ws = new WebSocket(url);
  sockets.push(ws);
  ws.on('message', (data) => frames.push(String(data)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return frames;
}

describe('Binance frames through data-ingest', () => {
  it('sends kline and trade frames byte for byte as the exchange sent them, combined and raw', async () => {
    const direct = await record(`${sim.wsUrl}/stream?streams=${STREAMS}`);
    await waitFor('a first frame from the exchange', () => direct.length > 0);
    const base = `ws://127.0.0.1:${ingest.httpPort}`;
    const combined = await record(`${base}/stream?streams=${STREAMS}`);
    const raw = await record(`${base}/ws/${STREAMS}`);
    const closedKlines = (frames: string[]) => frames.filter((f) => f.includes('"x":true')).length;
    // The raw connection opened after the combined one: wait for both, not one.
    await waitFor(
      'closed candles and trades through data-ingest',
      () => closedKlines(combined) >= 5 && closedKlines(raw) >= 4,
      20_000,
    );
    for (const ws of sockets.slice(1)) ws.close();

    const data = (frame: string) => frame.slice(frame.indexOf(',"data":') + ',"data":'.length, -1);
    const notSent = () => {
      const sent = new Set(direct);
      return combined.filter((f) => !sent.has(f));
    };
    // The exchange's own connection may lag ours by a frame or two; a frame it never sent stays.
    await waitFor(
      'every frame data-ingest sent among those the exchange sent',
      () => notSent().length === 0,
    ).catch(() => {});
    expect(notSent()).toEqual([]);
    const sentData = new Set(direct.map(data));
    expect(raw.filter((f) => !sentData.has(f))).toEqual([]);
    expect(combined.filter((f) => f.includes('"e":"trade"')).length).toBeGreaterThan(20);
    expect(raw.filter((f) => f.includes('"x":true')).length).toBeGreaterThanOrEqual(4);
  }, 30_000);
});
