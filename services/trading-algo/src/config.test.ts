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
  it('refuses WebSocket workers in a cluster, where gateways serve /ws', () => {
    expect(loadAlgoConfig({ WS_WORKERS: '2' }).WS_WORKERS).toBe(2);
    expect(
      errorOf(() => loadAlgoConfig({ WS_WORKERS: '2', NATS_URL: 'nats://127.0.0.1:4222' })).message,
    ).toContain('WS_WORKERS');
    expect(errorOf(() => loadAlgoConfig({ WS_WORKERS: '65' })).message).toContain('WS_WORKERS');
  });

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

  it('takes ALGO_ACK_WAIT_MS from 1000 to 600000, 30000 by default', () => {
    expect(loadAlgoConfig({}).ALGO_ACK_WAIT_MS).toBe(30_000);
    expect(loadAlgoConfig({ ALGO_ACK_WAIT_MS: '5000' }).ALGO_ACK_WAIT_MS).toBe(5_000);
    expect(errorOf(() => loadAlgoConfig({ ALGO_ACK_WAIT_MS: '999' })).message).toContain(
      'ALGO_ACK_WAIT_MS="999": must be at least 1000',
    );
    expect(errorOf(() => loadAlgoConfig({ ALGO_ACK_WAIT_MS: '600001' })).message).toContain(
      'ALGO_ACK_WAIT_MS="600001": must be at most 600000',
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

  it('takes LOG_PRETTY and --log-pretty like the other services', () => {
    expect(loadAlgoConfig({}).LOG_PRETTY).toBeUndefined();
    expect(loadAlgoConfig({ LOG_PRETTY: 'false' }).LOG_PRETTY).toBe(false);
    expect(loadAlgoConfig({}, ['--log-pretty']).LOG_PRETTY).toBe(true);
    expect(loadAlgoConfig({ LOG_PRETTY: 'true' }, ['--log-pretty=false']).LOG_PRETTY).toBe(false);
    expect(errorOf(() => loadAlgoConfig({ LOG_PRETTY: 'maybe' })).message).toContain(
      'LOG_PRETTY="maybe": must be one of true, false, 1, 0, yes, no',
    );
  });

  it('takes the tokens and per-address cap, and never echoes a token in an error', () => {
    const c = loadAlgoConfig({
      AUTH_TOKEN: 'a-long-enough-token-1',
      INGEST_AUTH_TOKEN: 'another-long-token-2',
      WS_MAX_CLIENTS_PER_ADDRESS: '5',
      TRUSTED_PROXIES: '10.0.0.1, ::1',
    });
    expect(c).toMatchObject({
      AUTH_TOKEN: 'a-long-enough-token-1',
      INGEST_AUTH_TOKEN: 'another-long-token-2',
      WS_MAX_CLIENTS_PER_ADDRESS: 5,
      TRUSTED_PROXIES: ['10.0.0.1', '::1'],
    });
    const err = errorOf(() =>
      loadAlgoConfig({ AUTH_TOKEN: 'short-secret', INGEST_AUTH_TOKEN: 'has a space in it!' }),
    );
    expect(err.message).toContain('AUTH_TOKEN=(hidden): must be at least 16 characters');
    expect(err.message).toContain(
      'INGEST_AUTH_TOKEN=(hidden): must be visible ASCII characters without spaces',
    );
    expect(err.message).not.toContain('short-secret');
    expect(err.message).not.toContain('has a space');
    expect(errorOf(() => loadAlgoConfig({}, ['--auth_token=super-secret-value'])).message).not.toContain(
      'super-secret-value',
    );
    expect(errorOf(() => loadAlgoConfig({ TRUSTED_PROXIES: 'proxy.local' })).message).toContain(
      'TRUSTED_PROXIES="proxy.local" (item 0): must be IP addresses',
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

  it('the README and docs/trading-algo.md configuration tables list every variable', () => {
    const keys = Object.keys(algoConfigSchema.shape).sort();
    expect(tableVariables('../../../README.md', '**trading-algo**', '**dashboard**')).toEqual(keys);
    expect(
      tableVariables('../../../docs/trading-algo.md', '## Configuration', '## The rubberband signal'),
    ).toEqual(keys);
  });
});

/** The variables named in the first column of the markdown table between two markers of a file. */
function tableVariables(relative: string, from: string, to: string): string[] {
  const text = readFileSync(new URL(relative, import.meta.url), 'utf8');
  const start = text.indexOf(from);
  const end = text.indexOf(to, start + from.length);
  if (start < 0 || end < 0) throw new Error(`section ${from} .. ${to} not found in ${relative}`);
  return [...text.slice(start, end).matchAll(/^\| `([A-Z][A-Z0-9_]+)` +\|/gm)].map((m) => m[1] ?? '').sort();
}
