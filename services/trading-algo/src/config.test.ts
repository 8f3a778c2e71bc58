import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@visualgo/platform';
import { describe, expect, it } from 'vitest';
import { algoConfigSchema, indicatorConfigOf, loadAlgoConfig } from './config.js';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('trading-algo config', () => {
  it('has the documented defaults', () => {
    const c = loadAlgoConfig({});
    expect(c).toMatchObject({
      INGEST_GRPC_URL: '127.0.0.1:50051',
      ALGO_HOST: '0.0.0.0',
      ALGO_HTTP_PORT: 8090,
      ALGO_STREAMS: [],
      SNAPSHOT_POINTS: 500,
      HISTORY_POINTS: 2000,
      FEED_STALE_MS: 60_000,
      WS_ALLOWED_ORIGINS: [],
      LOG_LEVEL: 'info',
    });
    expect(indicatorConfigOf(c)).toEqual({
      emaPeriod: 9,
      atrPeriod: 14,
      vwapAnchor: 'day',
      vwapSource: 'hlc3',
      vwapBands: [1, 2],
      rubberbandK: 2,
    });
  });

  it('parses every variable, with flags overriding the environment', () => {
    const c = loadAlgoConfig(
      {
        INGEST_GRPC_URL: 'data-ingest:50051',
        ALGO_STREAMS: 'btcusdt@kline_1m, ethusdt@kline_5m',
        VWAP_ANCHOR: 'week',
        VWAP_SOURCE: 'trades',
        VWAP_BANDS: '1, 1.5,3',
        RUBBERBAND_K: '2.5',
        WS_ALLOWED_ORIGINS: 'https://visualgo.example,http://localhost:5173',
        EMA_PERIOD: '21',
      },
      ['--ema-period', '12', '--algo-http-port=9001'],
    );
    expect(c.ALGO_STREAMS).toEqual(['btcusdt@kline_1m', 'ethusdt@kline_5m']);
    expect(c.VWAP_BANDS).toEqual([1, 1.5, 3]);
    expect(c.RUBBERBAND_K).toBe(2.5);
    expect(c.EMA_PERIOD).toBe(12);
    expect(c.ALGO_HTTP_PORT).toBe(9001);
    expect(c.WS_ALLOWED_ORIGINS).toEqual(['https://visualgo.example', 'http://localhost:5173']);
    expect(c.VWAP_ANCHOR).toBe('week');
  });

  it('fails naming each bad variable and its value', () => {
    const err = errorOf(() =>
      loadAlgoConfig({
        INGEST_GRPC_URL: 'http://data-ingest:50051',
        ALGO_HTTP_PORT: '70000',
        ALGO_STREAMS: 'btcusdt@trade',
        EMA_PERIOD: 'nine',
        ATR_PERIOD: '0',
        VWAP_ANCHOR: 'year',
        VWAP_SOURCE: 'close',
        VWAP_BANDS: '1,-2',
        RUBBERBAND_K: '0',
        WS_ALLOWED_ORIGINS: 'example.com',
        LOG_LEVEL: 'loud',
      }),
    );
    const named = err.issues.map((i) => i.split('=')[0]?.split('.')[0]);
    expect(named).toEqual([
      'INGEST_GRPC_URL',
      'ALGO_HTTP_PORT',
      'ALGO_STREAMS',
      'EMA_PERIOD',
      'ATR_PERIOD',
      'VWAP_ANCHOR',
      'VWAP_SOURCE',
      'VWAP_BANDS',
      'RUBBERBAND_K',
      'WS_ALLOWED_ORIGINS',
      'LOG_LEVEL',
    ]);
    expect(err.message).toContain('ALGO_STREAMS="btcusdt@trade": btcusdt@trade: must be kline stream names');
    expect(err.message).toContain('VWAP_ANCHOR="year": must be one of day, week, month, none');
  });

  it('requires HISTORY_POINTS >= SNAPSHOT_POINTS and an ordered reconnect range', () => {
    const err = errorOf(() =>
      loadAlgoConfig({
        SNAPSHOT_POINTS: '600',
        HISTORY_POINTS: '500',
        FEED_RECONNECT_MIN_MS: '5000',
        FEED_RECONNECT_MAX_MS: '100',
      }),
    );
    expect(err.message).toContain('HISTORY_POINTS="500": must be at least SNAPSHOT_POINTS (600)');
    expect(err.message).toContain(
      'FEED_RECONNECT_MAX_MS="100": must be at least FEED_RECONNECT_MIN_MS (5000)',
    );
    expect(errorOf(() => loadAlgoConfig({ VWAP_BANDS: '2,2' })).message).toContain(
      'VWAP_BANDS="2,2": multipliers must be distinct',
    );
  });

  it('takes FEED_STALE_MS as 0 (disabled) or 1000..3600000', () => {
    expect(loadAlgoConfig({ FEED_STALE_MS: '0' }).FEED_STALE_MS).toBe(0);
    expect(loadAlgoConfig({ FEED_STALE_MS: '1000' }).FEED_STALE_MS).toBe(1000);
    expect(loadAlgoConfig({ FEED_STALE_MS: '3600000' }).FEED_STALE_MS).toBe(3_600_000);
    expect(errorOf(() => loadAlgoConfig({ FEED_STALE_MS: '500' })).message).toContain(
      'FEED_STALE_MS="500": must be 0 (disabled) or at least 1000',
    );
    expect(errorOf(() => loadAlgoConfig({ FEED_STALE_MS: '3600001' })).message).toContain(
      'FEED_STALE_MS="3600001": must be at most 3600000',
    );
    expect(errorOf(() => loadAlgoConfig({ FEED_STALE_MS: '-1' })).message).toContain(
      'FEED_STALE_MS="-1": must be at least 0',
    );
  });

  it('rejects unknown flags', () => {
    expect(errorOf(() => loadAlgoConfig({}, ['--ema=9'])).message).toContain(
      'Unknown command-line flag(s): EMA',
    );
  });

  it('.env.example documents every variable with its default', () => {
    const path = join(dirname(fileURLToPath(import.meta.url)), '../.env.example');
    const example: Record<string, string> = {};
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m?.[1] !== undefined) example[m[1]] = m[2] ?? '';
    }
    expect(Object.keys(example).sort()).toEqual(Object.keys(algoConfigSchema.shape).sort());
    expect(loadAlgoConfig(example)).toEqual(loadAlgoConfig({}));
  });
});
