import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SimExchange, SimExchangeOptions } from './sim-exchange.js';
import { TestClient } from './test-client.js';
import { TEST_START_MS, testSims } from './test-sim.js';

const START = TEST_START_MS;
const candleList = z.object({ candles: z.array(z.unknown()) });
const sims = testSims('control-test');
const { connect } = sims;

const start = (options: SimExchangeOptions = {}) => sims.start({ controlApi: true, ...options });

function controlUrl(s: SimExchange): string {
  if (s.controlUrl === null) throw new Error('the control API is off');
  return s.controlUrl;
}

async function call(
  s: SimExchange,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${controlUrl(s)}${path}`, {
    method,
    headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** A raw HTTP/1.1 request, so Host and Origin can be set to anything (fetch forbids both). */
function rawRequest(
  s: SimExchange,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: s.port, method, path, headers, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON (Node's own 400 answers)
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('control API over HTTP', () => {
  it('reports status and connections', async () => {
    const s = await start();
    await connect('/stream?streams=btcusdt@trade/ethusdt@kline_1m');
    const status = await call(s, 'GET', '/status');
    expect(status).toEqual({
      status: 200,
      body: expect.objectContaining({
        seed: 'control-test',
        marketTimeMs: START,
        clock: 'manual',
        connections: 1,
      }),
    });
    const list = await call(s, 'GET', '/connections');
    expect(list.body).toEqual({
      connections: [
        expect.objectContaining({
          id: 1,
          combined: true,
          streams: ['btcusdt@trade', 'ethusdt@kline_1m'],
          stalled: false,
        }),
      ],
    });
  });

  it('drops, stalls, unstalls, sends bad frames and serverShutdown', async () => {
    const s = await start();
    const a = await connect('/ws/btcusdt@kline_1m');
    const b = await connect('/ws/ethusdt@kline_1m');
    expect((await call(s, 'POST', '/connections/stall', { stream: 'btcusdt@kline_1m' })).body).toEqual({
      stalled: 1,
    });
    expect(s.connections({ stream: 'btcusdt@kline_1m' })[0]?.stalled).toBe(true);
    expect((await call(s, 'POST', '/connections/unstall', {})).body).toEqual({ unstalled: 1 });
    expect(
      (await call(s, 'POST', '/connections/malformed', { kind: 'invalid-json', ids: [1] })).body,
    ).toEqual({
      sent: 1,
    });
    await a.waitForFrames(1);
    expect(
      (await call(s, 'POST', '/connections/server-shutdown', { ids: [2], closeAfterMs: 10 })).body,
    ).toEqual({
      notified: 1,
    });
    expect((await b.waitForClose()).code).toBe(1001);
    expect((await call(s, 'POST', '/connections/drop', { closeFrame: false })).body).toEqual({ dropped: 1 });
    expect((await a.waitForClose()).code).toBe(1006);
  });

  it('refuses and accepts connections', async () => {
    const s = await start();
    expect((await call(s, 'POST', '/connections/refuse', { mode: 'http-503' })).body).toEqual({
      refusing: 'http-503',
    });
    await expect(TestClient.open(`${s.wsUrl}/ws/btcusdt@trade`)).rejects.toThrow('HTTP 503');
    expect((await call(s, 'POST', '/connections/accept')).body).toEqual({ refusing: null });
    await connect('/ws/btcusdt@trade');
  });

  it('pauses, resumes and advances market time', async () => {
    const s = await start();
    expect((await call(s, 'POST', '/clock/advance', { ms: 90_000 })).body).toEqual({
      marketTimeMs: START + 90_000,
    });
    expect((await call(s, 'POST', '/market/pause')).body).toEqual({
      paused: true,
      marketTimeMs: START + 90_000,
    });
    await call(s, 'POST', '/clock/advance', { ms: 60_000 });
    expect(s.marketNowMs()).toBe(START + 90_000);
    expect((await call(s, 'POST', '/market/resume')).body).toEqual({
      paused: false,
      marketTimeMs: START + 90_000,
    });
  });

  it('refuses to advance a scaled clock', async () => {
    const s = await start({ clock: 'scaled' });
    expect((await call(s, 'POST', '/clock/advance', { ms: 1 })).status).toBe(409);
  });

  it("jumps the clock and changes a scaled clock's speed", async () => {
    const s = await start({ clock: 'scaled', speed: 1, startMs: START });
    s.pauseMarket();
    const t0 = s.marketNowMs();
    expect((await call(s, 'POST', '/clock/jump', { ms: 600_000 })).body).toEqual({
      marketTimeMs: t0 + 600_000,
    });
    expect((await call(s, 'POST', '/clock/jump', { ms: -1 })).status).toBe(400);
    expect((await call(s, 'POST', '/clock/speed', { speed: 60 })).body).toEqual({
      speed: 60,
      marketTimeMs: t0 + 600_000,
    });
    expect((await call(s, 'POST', '/clock/speed', { speed: 0 })).status).toBe(400);
    expect(await s.metrics.getSingleMetricAsString('sim_faults_injected_total')).toMatch(
      /sim_faults_injected_total\{kind="clock-jump"[^}]*\} 1/,
    );
  });

  it('injects, lists and clears REST faults', async () => {
    const s = await start();
    const fault = { mode: '429', count: 1, pathPrefix: '/api/v3/klines', retryAfterSec: 3 };
    expect((await call(s, 'POST', '/rest/faults', fault)).body).toEqual({ faults: [fault] });
    expect((await call(s, 'GET', '/rest/faults')).body).toEqual({ faults: [fault] });
    const res = await fetch(`${s.httpUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m`);
    expect([res.status, res.headers.get('retry-after')]).toEqual([429, '3']);
    expect((await call(s, 'GET', '/rest/faults')).body).toEqual({ faults: [] });
    await call(s, 'POST', '/rest/faults', { mode: 'timeout' });
    expect((await call(s, 'DELETE', '/rest/faults')).body).toEqual({ faults: [] });
    expect((await call(s, 'POST', '/rest/weight/reset')).body).toEqual({ reset: true });
  });

  it('serves ground truth candles and trades', async () => {
    const s = await start();
    s.advance(180_000);
    const candles = await call(s, 'GET', `/truth/candles?stream=btcusdt@kline_1m&startTime=${START}`);
    expect(candles.body).toEqual({ candles: s.truth.candles('btcusdt@kline_1m', { startTimeMs: START }) });
    expect(candleList.parse(candles.body).candles).toHaveLength(3);
    const withOpen = await call(
      s,
      'GET',
      `/truth/candles?stream=btcusdt@kline_1m&startTime=${START}&includeOpen=true`,
    );
    expect(candleList.parse(withOpen.body).candles).toHaveLength(4);
    const trades = await call(
      s,
      'GET',
      `/truth/trades?symbol=btcusdt&startTime=${START}&endTime=${START + 60_000}`,
    );
    expect(trades.body).toEqual({
      trades: s.truth.trades('BTCUSDT', { startTimeMs: START, endTimeMs: START + 60_000 }),
    });
    expect((await call(s, 'GET', '/truth/candles?stream=xyz@kline_1m')).status).toBe(404);
  });

  it('rejects invalid bodies and unknown routes', async () => {
    const s = await start();
    const bad = await call(s, 'POST', '/connections/malformed', { kind: 'gibberish' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('kind');
    expect((await call(s, 'POST', '/connections/drop', { ids: 'all' })).status).toBe(400);
    expect((await call(s, 'GET', '/nothing-here')).status).toBe(404);
    const notJson = await fetch(`${controlUrl(s)}/connections/drop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{oops',
    });
    expect(notJson.status).toBe(400);
  });
});

describe('control API access', () => {
  it('is off unless enabled: 404 with how to turn it on, and no fault is applied', async () => {
    const s = await sims.start();
    await connect('/ws/btcusdt@trade');
    expect(s.controlUrl).toBeNull();
    const res = await fetch(`${s.httpUrl}/sim/connections/drop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: expect.stringContaining('SIM_CONTROL_API=true') });
    expect(s.connections()).toHaveLength(1);
    expect((await fetch(`${s.httpUrl}/sim/status`)).status).toBe(404);
  });

  it('refuses the cross-site request a web page on the same machine could send', async () => {
    const s = await start();
    await connect('/ws/btcusdt@trade');
    const attack = await rawRequest(
      s,
      'POST',
      '/sim/connections/drop',
      { Host: `evil.example:${s.port}`, Origin: 'http://evil.example', 'Content-Type': 'text/plain' },
      '{"closeFrame":false}',
    );
    expect(attack.status).toBe(403);
    expect(s.connections()).toHaveLength(1);
  });

  it('refuses a Host that is not loopback (DNS rebinding), even from a same-origin page', async () => {
    const s = await start();
    for (const host of [`evil.example:${s.port}`, `10.0.0.1:${s.port}`, `127.0.0.1.evil.example`]) {
      const res = await rawRequest(s, 'GET', '/sim/status', { Host: host });
      expect([host, res.status]).toEqual([host, 403]);
      expect(res.body).toEqual({ error: expect.stringContaining('loopback host') });
    }
    const rebound = await rawRequest(s, 'POST', '/sim/market/pause', {
      Host: `evil.example:${s.port}`,
      Origin: `http://evil.example:${s.port}`,
      'Content-Type': 'application/json',
    });
    expect(rebound.status).toBe(403);
    expect(s.status().paused).toBe(false);
    // HTTP/1.1 without Host: Node's server answers 400 before any handler runs.
    expect((await rawRequest(s, 'GET', '/sim/status', {})).status).toBe(400);
  });

  it('refuses a cross-origin or opaque Origin on loopback', async () => {
    const s = await start();
    const host = `127.0.0.1:${s.port}`;
    for (const origin of [
      'http://evil.example',
      'null',
      `http://localhost:${s.port}`,
      'http://127.0.0.1:1',
    ]) {
      const res = await rawRequest(s, 'POST', '/sim/market/pause', {
        Host: host,
        Origin: origin,
        'Content-Type': 'application/json',
      });
      expect([origin, res.status]).toEqual([origin, 403]);
      expect(res.body).toEqual({ error: expect.stringContaining('cross-origin') });
    }
    expect(s.status().paused).toBe(false);
  });

  it('refuses POSTs that are not application/json (a form or text/plain body)', async () => {
    const s = await start();
    const host = `127.0.0.1:${s.port}`;
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      null,
    ]) {
      const headers: Record<string, string> = { Host: host };
      if (type !== null) headers['Content-Type'] = type;
      const res = await rawRequest(s, 'POST', '/sim/market/pause', headers, '{}');
      expect([type, res.status]).toEqual([type, 415]);
    }
    expect(s.status().paused).toBe(false);
  });

  it('serves loopback requests: no Origin, or a same-origin loopback page', async () => {
    const s = await start();
    for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `[::1]:${s.port}`]) {
      expect((await rawRequest(s, 'GET', '/sim/status', { Host: host })).status).toBe(200);
    }
    const samePage = await rawRequest(s, 'POST', '/sim/market/pause', {
      Host: `localhost:${s.port}`,
      Origin: `http://localhost:${s.port}`,
      'Content-Type': 'application/json; charset=utf-8',
    });
    expect(samePage).toEqual({ status: 200, body: { paused: true, marketTimeMs: START } });
  });
});
