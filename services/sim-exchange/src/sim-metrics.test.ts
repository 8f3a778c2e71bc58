import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type SimExchange, type SimExchangeOptions, startSimExchange } from './sim-exchange.js';
import { TestClient } from './test-client.js';

const START = Date.UTC(2025, 0, 15, 12, 0, 0);
const running: SimExchange[] = [];
const clients: TestClient[] = [];

async function start(options: SimExchangeOptions = {}): Promise<SimExchange> {
  const sim = await startSimExchange({
    clock: 'manual',
    startMs: START,
    seed: 'metrics-test',
    historyDays: 1,
    ...options,
  });
  running.push(sim);
  return sim;
}

async function connect(sim: SimExchange, path: string): Promise<TestClient> {
  const client = await TestClient.open(`${sim.wsUrl}${path}`);
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(running.splice(0).map((s) => s.close()));
});

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text exposition (the subset prom-client writes). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unexpected exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] ?? ''] = pair[2] ?? '';
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(sim: SimExchange): Promise<(name: string, labels?: Record<string, string>) => number> {
  const res = await fetch(`${sim.httpUrl}/metrics`);
  expect(res.status).toBe(200);
  const samples = parseExposition(await res.text());
  return (name, labels = {}) => {
    const found = samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found.length !== 1) {
      throw new Error(`${found.length} samples for ${name} ${JSON.stringify(labels)}`);
    }
    return found[0]?.value ?? Number.NaN;
  };
}

function countDisconnects(sim: SimExchange): () => number {
  let n = 0;
  sim.on('disconnected', () => {
    n++;
  });
  return () => n;
}

async function until(condition: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('GET /metrics', () => {
  it('counts stream messages, methods, REST requests and faults after real traffic', async () => {
    const sim = await start();
    const disconnects = countDisconnects(sim);
    const client = await connect(sim, '/ws/btcusdt@kline_1m');
    await sim.waitForConnections(1);
    // One market minute of a 1m kline stream: an update every 2 s, the last one final.
    sim.advance(60_000);
    await client.waitForFrames(30);
    client.send({ method: 'SUBSCRIBE', params: ['btcusdt@trade'], id: 1 });
    await client.reply(1);
    client.send('not json');
    await client.reply(null);
    expect(sim.sendMalformed('invalid-json')).toBe(1);
    await client.waitForFrames(33);

    const klines = await fetch(`${sim.httpUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5`);
    expect(klines.status).toBe(200);
    sim.injectRestFault({ mode: '429', count: 1, pathPrefix: '/api/v3/klines' });
    const limited = await fetch(`${sim.httpUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5`);
    expect(limited.status).toBe(429);

    const before = await scrape(sim);
    expect(before('sim_ws_connections')).toBe(1);
    client.close();
    await until(() => disconnects() === 1, 'the disconnect');

    const m = await scrape(sim);
    expect(m('sim_ws_connections', { service: 'sim-exchange' })).toBe(0);
    expect(m('sim_ws_connections_opened_total')).toBe(1);
    expect(m('sim_ws_connections_closed_total', { reason: 'client' })).toBe(1);
    expect(m('sim_ws_connections_closed_total', { reason: 'dropped' })).toBe(0);
    expect(m('sim_ws_messages_sent_total', { kind: 'kline' })).toBe(30);
    expect(m('sim_ws_messages_sent_total', { kind: 'trade' })).toBe(0);
    expect(m('sim_ws_messages_sent_total', { kind: 'aggTrade' })).toBe(0);
    // Two method replies and the malformed frame.
    expect(m('sim_ws_messages_sent_total', { kind: 'other' })).toBe(3);
    expect(m('sim_ws_method_requests_total', { method: 'SUBSCRIBE', outcome: 'ok' })).toBe(1);
    expect(m('sim_ws_method_requests_total', { method: 'unknown', outcome: 'error' })).toBe(1);
    expect(m('sim_ws_method_requests_total', { method: 'SUBSCRIBE', outcome: 'error' })).toBe(0);
    expect(m('sim_rest_requests_total', { path: '/api/v3/klines', status: '200' })).toBe(1);
    expect(m('sim_rest_requests_total', { path: '/api/v3/klines', status: '429' })).toBe(1);
    expect(m('sim_rest_weight_rejections_total', { status: '429' })).toBe(0);
    expect(m('sim_faults_injected_total', { kind: 'rest-429' })).toBe(1);
    expect(m('sim_faults_injected_total', { kind: 'malformed' })).toBe(1);
    expect(m('sim_faults_injected_total', { kind: 'drop' })).toBe(0);
    expect(m('sim_market_time_ms')).toBe(START + 60_000);
    expect(m('sim_trades_generated_total')).toBeGreaterThan(0);
  });

  it('counts trades generated by the market model, equal to the trades one minute streams', async () => {
    const sim = await start();
    const client = await connect(sim, '/ws/btcusdt@trade');
    await sim.waitForConnections(1);
    sim.advance(60_000);
    const m = await scrape(sim);
    const trades = sim.truth.trades('BTCUSDT', { startTimeMs: START, endTimeMs: START + 60_000 });
    expect(trades.length).toBeGreaterThan(10);
    expect(m('sim_trades_generated_total')).toBe(trades.length);
    expect(m('sim_ws_messages_sent_total', { kind: 'trade' })).toBe(trades.length);
    await client.waitForFrames(trades.length);
  });

  it('counts weight-limit rejections (429, then 418 once banned) apart from other statuses', async () => {
    const sim = await start({ restWeightLimit: 2, restBanAfterRejections: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${sim.httpUrl}/api/v3/ping`)).status);
    expect(statuses).toEqual([200, 200, 429, 418]);
    expect((await fetch(`${sim.httpUrl}/api/v3/nothing`)).status).toBe(404);

    const m = await scrape(sim);
    expect(m('sim_rest_requests_total', { path: '/api/v3/ping', status: '200' })).toBe(2);
    expect(m('sim_rest_requests_total', { path: '/api/v3/ping', status: '429' })).toBe(1);
    expect(m('sim_rest_requests_total', { path: '/api/v3/ping', status: '418' })).toBe(1);
    expect(m('sim_rest_requests_total', { path: 'other', status: '404' })).toBe(1);
    expect(m('sim_rest_weight_rejections_total', { status: '429' })).toBe(1);
    expect(m('sim_rest_weight_rejections_total', { status: '418' })).toBe(1);
  });

  it('counts connection faults once per connection hit, and closes by reason', async () => {
    const sim = await start();
    const disconnects = countDisconnects(sim);
    await connect(sim, '/ws/btcusdt@kline_1m');
    await connect(sim, '/stream?streams=btcusdt@kline_1m');
    const eth = await connect(sim, '/ws/ethusdt@trade');
    await sim.waitForConnections(3);

    expect(sim.stallConnections({ stream: 'ethusdt@trade', durationMs: 60_000 })).toBe(1);
    expect(sim.serverShutdown({ stream: 'ethusdt@trade', closeAfterMs: null })).toBe(1);
    await eth.waitForFrames(1);
    expect(sim.dropConnections({ stream: 'btcusdt@kline_1m', closeFrame: false })).toBe(2);
    await until(() => disconnects() === 2, 'two disconnects');
    await sim.refuseConnections({ mode: 'http-503' });
    await expect(TestClient.open(`${sim.wsUrl}/ws/btcusdt@trade`)).rejects.toThrow('HTTP 503');
    await sim.acceptConnections();
    expect(sim.dropConnections()).toBe(1);
    await until(() => disconnects() === 3, 'three disconnects');

    const m = await scrape(sim);
    expect(m('sim_faults_injected_total', { kind: 'stall' })).toBe(1);
    expect(m('sim_faults_injected_total', { kind: 'server-shutdown' })).toBe(1);
    expect(m('sim_faults_injected_total', { kind: 'cut' })).toBe(2);
    expect(m('sim_faults_injected_total', { kind: 'drop' })).toBe(1);
    expect(m('sim_faults_injected_total', { kind: 'refuse' })).toBe(1);
    expect(m('sim_faults_injected_total', { kind: 'unlisten' })).toBe(0);
    expect(m('sim_ws_messages_sent_total', { kind: 'other' })).toBe(1);
    expect(m('sim_ws_connections_opened_total')).toBe(3);
    expect(m('sim_ws_connections_closed_total', { reason: 'dropped' })).toBe(3);
    expect(m('sim_ws_connections')).toBe(0);
  });

  it('is served in Prometheus text format into the given registry, untouched by REST faults', async () => {
    const registry = new Registry();
    const sim = await start({ metrics: registry });
    expect(sim.metrics).toBe(registry);
    sim.injectRestFault({ mode: '503' });

    const res = await fetch(`${sim.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    const text = await res.text();
    expect(text).toContain('# TYPE sim_ws_messages_sent_total counter');
    expect(text).toContain('# TYPE sim_market_time_ms gauge');
    expect((await fetch(`${sim.httpUrl}/metrics`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${sim.httpUrl}/api/v3/ping`)).status).toBe(503);

    const m = await scrape(sim);
    expect(m('sim_faults_injected_total', { kind: 'rest-503' })).toBe(1);
    expect(m('sim_rest_requests_total', { path: '/api/v3/ping', status: '503' })).toBe(1);
    expect(m('sim_market_time_ms')).toBe(START);
  });
});
