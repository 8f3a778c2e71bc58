import { binanceCombinedFrame, binanceKlineEvent, binanceStreamEvent } from '@visualgo/contracts';
import { describe, expect, it } from 'vitest';
import { MALFORMED_KINDS } from './faults.js';
import type { CloseReason } from './sim-exchange.js';
import { TestClient } from './test-client.js';
import { TEST_START_MS, testSims } from './test-sim.js';

const START = TEST_START_MS;
const { start, connect } = testSims('fault-test');

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

describe('dropping connections', () => {
  it('closes with a close frame, or cuts the connection without one', async () => {
    const s = await start();
    const reasons: CloseReason[] = [];
    s.on('disconnected', (_info, reason) => reasons.push(reason));
    const a = await connect('/ws/btcusdt@trade');
    const b = await connect('/ws/ethusdt@trade');
    const c = await connect('/ws/ethusdt@trade');
    expect(s.dropConnections({ stream: 'btcusdt@trade', code: 4000, reason: 'test drop' })).toBe(1);
    expect(await a.waitForClose()).toEqual({ code: 4000, reason: 'test drop' });
    const cId = s.connections({ stream: 'ethusdt@trade' }).at(-1)?.id ?? -1;
    expect(s.dropConnections({ ids: [cId], closeFrame: false })).toBe(1);
    expect((await c.waitForClose()).code).toBe(1006);
    expect(b.closed).toBeNull();
    await until(() => s.connections().length === 1);
    expect(s.connections().map((x) => x.streams)).toEqual([['ethusdt@trade']]);
    expect(reasons).toEqual(['dropped', 'dropped']);
  });
});

describe('stalling connections', () => {
  it('sends nothing and answers no pings while stalled, then resumes after the stall', async () => {
    // Fast pings in a test mean fast pongs: lift the inbound message limit so they do not trip it.
    const s = await start({ pingIntervalMs: 40, pongTimeoutMs: 10_000, maxMessagesPerSecond: 1_000 });
    const stalled = await connect('/ws/btcusdt@kline_1m');
    const healthy = await connect('/ws/ethusdt@kline_1m');
    await stalled.waitFor(() => stalled.pings.length >= 1, 2_000, 'first ping');
    const id = s.connections({ stream: 'btcusdt@kline_1m' })[0]?.id ?? -1;
    expect(s.stallConnections({ ids: [id], durationMs: 400 })).toBe(1);
    expect(s.connections({ ids: [id] })[0]?.stalled).toBe(true);
    const pingsBefore = stalled.pings.length;
    let ponged = false;
    stalled.ws.once('pong', () => {
      ponged = true;
    });
    stalled.ws.ping('are you there');
    s.advance(10_000);
    await healthy.waitForFrames(5);
    await new Promise((r) => setTimeout(r, 200));
    expect(stalled.frames).toHaveLength(0);
    expect(ponged).toBe(false);
    expect(stalled.pings.length).toBe(pingsBefore);
    await until(() => s.connections({ ids: [id] })[0]?.stalled === false);
    s.advance(2_000);
    await stalled.waitForFrames(1);
    // Data sent while stalled is lost: the first frame after the stall is the latest update.
    expect(binanceKlineEvent.parse(JSON.parse(stalled.frames[0] ?? '')).E).toBe(START + 12_000);
    expect(stalled.closed).toBeNull();
  });

  it('stalls until unstalled when no duration is given', async () => {
    const s = await start();
    const client = await connect('/ws/btcusdt@kline_1m');
    s.stallConnections();
    s.advance(4_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(client.frames).toHaveLength(0);
    expect(s.unstallConnections()).toBe(1);
    s.advance(2_000);
    await client.waitForFrames(1);
  });
});

describe('malformed frames', () => {
  it('sends each kind of bad frame, none of which is a valid event', async () => {
    const s = await start();
    const raw = await connect('/ws/btcusdt@kline_1m');
    const combined = await connect('/stream?streams=ethusdt@kline_1m');
    for (const kind of MALFORMED_KINDS) expect(s.sendMalformed(kind)).toBe(2);
    const n = MALFORMED_KINDS.length;
    await raw.waitFor(() => raw.frames.length + raw.binaryFrames.length >= n);
    await combined.waitFor(() => combined.frames.length + combined.binaryFrames.length >= n);
    for (const client of [raw, combined]) {
      expect(client.binaryFrames).toHaveLength(1);
      const [invalid, truncated, unknown, missing, wrong, empty] = client.frames;
      expect(tryJson(invalid ?? '')).toBeUndefined();
      expect(tryJson(truncated ?? '')).toBeUndefined();
      expect(empty).toBe('');
      for (const frame of [unknown, missing, wrong]) {
        const parsed = tryJson(frame ?? '');
        expect(parsed).toBeDefined();
        const data = client === combined ? binanceCombinedFrame.parse(parsed).data : parsed;
        expect(binanceStreamEvent.safeParse(data).success).toBe(false);
      }
    }
    expect(binanceCombinedFrame.parse(JSON.parse(combined.frames[2] ?? '')).stream).toBe('ethusdt@kline_1m');
    // The connection keeps working after bad frames.
    s.advance(2_000);
    await raw.waitFor(() => raw.json().some((m) => binanceKlineEvent.safeParse(m).success));
  });
});

describe('pausing the market', () => {
  it('freezes market time, so nothing trades and no kline updates are sent', async () => {
    const s = await start({ clock: 'scaled', speed: 60, startMs: START });
    const client = await connect('/ws/btcusdt@kline_1m');
    await client.waitForFrames(2);
    s.pauseMarket();
    const frozen = s.marketNowMs();
    await new Promise((r) => setTimeout(r, 100));
    const count = client.frames.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(client.frames.length).toBe(count);
    expect(s.marketNowMs()).toBe(frozen);
    const time = await (await fetch(`${s.httpUrl}/api/v3/time`)).json();
    expect(time).toEqual({ serverTime: frozen });
    s.resumeMarket();
    await client.waitForFrames(count + 2);
    expect(s.marketNowMs()).toBeGreaterThan(frozen);
    expect(s.marketNowMs() - frozen).toBeLessThan(60_000);
  });

  it('ignores advance() on a paused manual clock', async () => {
    const s = await start();
    s.pauseMarket();
    s.advance(60_000);
    expect(s.marketNowMs()).toBe(START);
    s.resumeMarket();
    s.advance(60_000);
    expect(s.marketNowMs()).toBe(START + 60_000);
  });
});

describe('REST faults', () => {
  const klinesPath = '/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=2';

  it('answers 429, 418, 500 and 503 for the given number of matching requests', async () => {
    const s = await start();
    s.injectRestFault({ mode: '429', count: 2, pathPrefix: '/api/v3/klines', retryAfterSec: 7 });
    expect((await fetch(`${s.httpUrl}/api/v3/ping`)).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${s.httpUrl}${klinesPath}`);
      expect([res.status, res.headers.get('retry-after')]).toEqual([429, '7']);
      expect(await res.json()).toMatchObject({ code: -1003 });
    }
    expect((await fetch(`${s.httpUrl}${klinesPath}`)).status).toBe(200);
    for (const mode of ['418', '500', '503'] as const) {
      s.injectRestFault({ mode, count: 1 });
      const res = await fetch(`${s.httpUrl}${klinesPath}`);
      expect(res.status).toBe(Number(mode));
      if (mode === '418') expect(res.headers.get('retry-after')).toBe('1');
    }
    expect((await fetch(`${s.httpUrl}${klinesPath}`)).status).toBe(200);
  });

  it('times out or resets requests', async () => {
    const s = await start();
    s.injectRestFault({ mode: 'timeout', count: 1 });
    await expect(fetch(`${s.httpUrl}${klinesPath}`, { signal: AbortSignal.timeout(200) })).rejects.toThrow(
      /timeout|aborted/i,
    );
    s.injectRestFault({ mode: 'reset', count: 1 });
    await expect(fetch(`${s.httpUrl}${klinesPath}`)).rejects.toThrow(/fetch failed/);
    expect((await fetch(`${s.httpUrl}${klinesPath}`)).status).toBe(200);
  });

  it('lasts for a duration when given one, and can be cleared', async () => {
    let wall = 1_000_000;
    const s = await start({ wallNowMs: () => wall });
    s.injectRestFault({ mode: '500', durationMs: 5_000 });
    expect((await fetch(`${s.httpUrl}/api/v3/ping`)).status).toBe(500);
    expect((await fetch(`${s.httpUrl}/api/v3/ping`)).status).toBe(500);
    wall += 5_000;
    expect((await fetch(`${s.httpUrl}/api/v3/ping`)).status).toBe(200);
    s.injectRestFault({ mode: '503' });
    expect((await fetch(`${s.httpUrl}/api/v3/ping`)).status).toBe(503);
    s.clearRestFaults();
    expect((await fetch(`${s.httpUrl}/api/v3/ping`)).status).toBe(200);
  });
});

describe('refusing connections', () => {
  it('answers upgrades with 503 or cuts them, then accepts again', async () => {
    const s = await start();
    const existing = await connect('/ws/btcusdt@trade');
    await s.refuseConnections({ mode: 'http-503' });
    await expect(TestClient.open(`${s.wsUrl}/ws/btcusdt@trade`)).rejects.toThrow('HTTP 503');
    await s.refuseConnections({ mode: 'reset' });
    await expect(TestClient.open(`${s.wsUrl}/ws/btcusdt@trade`)).rejects.toThrow(/socket hang up|ECONNRESET/);
    await s.acceptConnections();
    await connect('/ws/btcusdt@trade');
    expect(existing.closed).toBeNull();
  });

  it('closes the port (connection refused) for a while and listens again', async () => {
    const s = await start();
    await s.refuseConnections({ mode: 'unlisten', durationMs: 300 });
    await expect(TestClient.open(`${s.wsUrl}/ws/btcusdt@trade`)).rejects.toThrow(/ECONNREFUSED/);
    await until(() => s.status().refusing === null);
    await connect('/ws/btcusdt@trade');
  });
});

describe('connection events', () => {
  it('reports connections and why they ended', async () => {
    const s = await start({ maxConnectionMs: 100 });
    const opened: number[] = [];
    const closed: CloseReason[] = [];
    s.on('connected', (info) => opened.push(info.id));
    s.on('disconnected', (_info, reason) => closed.push(reason));
    const client = await connect('/ws/btcusdt@trade');
    await client.waitForClose();
    await until(() => closed.length > 0);
    expect(opened).toHaveLength(1);
    expect(closed).toEqual(['lifetime']);
  });
});
