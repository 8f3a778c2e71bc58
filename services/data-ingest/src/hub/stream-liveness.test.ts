import { describe, expect, it } from 'vitest';
import { ethCandle } from '../testing/candles.js';
import { hubWith } from '../testing/recording-bus.js';
import { StreamLiveness } from './stream-liveness.js';

const STREAM = 'ethusdt@kline_1m';

describe('StreamLiveness', () => {
  it('stalls a stream after its interval plus the grace without an accepted event', () => {
    let t = 0;
    const live = new StreamLiveness(60_000, () => t);
    live.add(STREAM, '1m');
    t = 120_000;
    expect(live.stalls()).toEqual([]);
    t = 120_001;
    expect(live.stalls().map((s) => s.stream)).toEqual([STREAM]);
    expect(live.stalls()[0]?.reason).toBe(
      `${STREAM}: no event accepted for 120 s (a 1m stream must accept one at least every 120 s); nothing was received for it`,
    );
    live.accepted(STREAM);
    expect(live.stalls()).toEqual([]);
  });

  it('says when the events were dropped, and reports each transition once', () => {
    let t = 0;
    const live = new StreamLiveness(1_000, () => t);
    live.add('btcusdt@kline_1s', '1s');
    for (let i = 0; i < 7; i++) live.dropped('btcusdt@kline_1s', 'stale');
    live.dropped('btcusdt@kline_1s', 'duplicate');
    t = 2_500;
    const { stalled, recovered } = live.transitions();
    expect(recovered).toEqual([]);
    expect(stalled.map((s) => s.dropped)).toEqual([{ stale: 7, duplicate: 1 }]);
    expect(stalled[0]?.reason).toContain(
      '7 updates since were dropped as stale and 1 closed candles as duplicates',
    );
    expect(live.transitions()).toEqual({ stalled: [], recovered: [] });
    live.accepted('btcusdt@kline_1s');
    expect(live.transitions()).toEqual({ stalled: [], recovered: ['btcusdt@kline_1s'] });
  });

  it('starts counting over on restart (a reconnection), never back in time', () => {
    let t = 0;
    const live = new StreamLiveness(60_000, () => t);
    live.add(STREAM, '1m');
    t = 100_000;
    live.restart();
    t = 200_000;
    expect(live.stalls()).toEqual([]);
    t = 220_001;
    expect(live.stalls()).toHaveLength(1);
  });
});

describe('IngestHub readiness when the exchange clock moves back', () => {
  it('is not ready, and says why, while every update is dropped as stale; ready again after', async () => {
    let t = 1_000_000;
    const { hub, status } = hubWith(
      [
        { kind: 'kline', symbol: 'ETHUSDT', interval: '1m' },
        { kind: 'trade', symbol: 'ETHUSDT' },
      ],
      {
        latestClosed: async () => [0, 1, 2].map((i) => ethCandle(i, true)),
        closedBetween: async () => [],
        tradesBetween: async () => [],
      },
      { stallGraceMs: 60_000, now: () => t },
    );
    await hub.loadHistory();
    hub.setConnected(true);
    hub.ingestCandle(STREAM, ethCandle(3, false));
    expect(hub.readiness()).toEqual({ ready: true, reasons: [] });

    // The exchange's clock is three hours behind from now on: every update it sends (one every
    // 2 s, of the candle open three hours ago) is older than what was already received.
    for (let i = 0; i < 65; i++) {
      t += 2_000;
      hub.ingestCandle(STREAM, ethCandle(3 - 180, false, 'ETHUSDT', 1_000 + i * 100));
      hub.checkLiveness();
    }
    const { ready, reasons } = hub.readiness();
    expect(ready).toBe(false);
    expect(hub.isReady()).toBe(false);
    expect(reasons).toEqual([
      expect.stringMatching(
        /^ethusdt@kline_1m: no event accepted for 1[23]\d s \(a 1m stream must accept one at least every 120 s\); \d+ updates since were dropped as stale/,
      ),
    ]);
    expect(status.filter((s) => s.stream === STREAM)).toEqual([
      expect.objectContaining({
        kind: 'disconnected',
        detail: expect.stringMatching(/^stalled: ethusdt@kline_1m: /),
      }),
    ]);

    hub.ingestCandle(STREAM, ethCandle(3, true)); // the right clock again
    hub.checkLiveness();
    expect(hub.readiness()).toEqual({ ready: true, reasons: [] });
    expect(status.filter((s) => s.stream === STREAM).map((s) => [s.kind, s.detail])).toEqual([
      ['disconnected', expect.stringMatching(/^stalled: /)],
      ['connected', 'accepting events again'],
    ]);
  });
});
