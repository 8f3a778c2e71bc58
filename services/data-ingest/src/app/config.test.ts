import { readFileSync } from 'node:fs';
import { formatStreamName } from '@visualgo/market';
import { ConfigError, loadConfig } from '@visualgo/platform';
import { describe, expect, it } from 'vitest';
import { ingestConfigSchema, upstreamOf } from './config.js';
import { streamsOf } from './ingest-service.js';

const load = (env: Record<string, string>, argv: string[] = []) => loadConfig(ingestConfigSchema, env, argv);
function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('data-ingest config', () => {
  it('defaults to live Binance with the seed symbols on the seed ports', () => {
    const config = load({});
    expect(upstreamOf(config)).toEqual({
      exchange: 'binance',
      wsUrl: 'wss://stream.binance.com:9443',
      restUrl: 'https://api.binance.com',
    });
    expect(config.INGEST_GRPC_PORT).toBe(50051);
    expect(config.INGEST_HTTP_PORT).toBe(8080);
    expect(streamsOf(config).map(formatStreamName)).toEqual([
      'btcusdt@kline_1m',
      'btcusdt@trade',
      'ethusdt@kline_1m',
      'ethusdt@trade',
      'bnbbtc@kline_1m',
      'bnbbtc@trade',
    ]);
  });

  it('points at the simulated exchange and labels its data binance-sim', () => {
    expect(upstreamOf(load({ MARKET_SOURCE: 'sim', SIM_URL: 'http://sim-exchange:9100' }))).toEqual({
      exchange: 'binance-sim',
      wsUrl: 'ws://sim-exchange:9100',
      restUrl: 'http://sim-exchange:9100',
    });
  });

  it('accepts symbols in any case and several intervals', () => {
    const config = load({ SYMBOLS: 'BTCUSDT', INTERVALS: '1m,1h', TRADES: 'false' });
    expect(streamsOf(config).map(formatStreamName)).toEqual(['btcusdt@kline_1m', 'btcusdt@kline_1h']);
  });

  it('names the variable, the value and what is allowed', () => {
    expect(errorOf(() => load({ MARKET_SOURCE: 'kraken' })).message).toContain(
      'MARKET_SOURCE="kraken": must be binance or sim',
    );
    expect(errorOf(() => load({ INTERVALS: '1m,7m' })).message).toContain(
      'INTERVALS="1m,7m" (item 1): intervals are',
    );
    expect(errorOf(() => load({ BINANCE_WS_URL: 'https://x' })).message).toContain(
      'BINANCE_WS_URL="https://x": must be a ws:// or wss:// URL',
    );
    expect(errorOf(() => load({}, ['--ingest-grpc-port=99999'])).message).toContain(
      'INGEST_GRPC_PORT="99999"',
    );
  });

  it('.env.example documents every variable with its default', () => {
    const example: Record<string, string> = {};
    for (const line of readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m?.[1] !== undefined) example[m[1]] = m[2] ?? '';
    }
    expect(Object.keys(example).sort()).toEqual(Object.keys(ingestConfigSchema.shape).sort());
    expect(load(example)).toEqual(load({}));
  });

  it('the README and docs/data-ingest.md configuration tables list every variable', () => {
    const keys = Object.keys(ingestConfigSchema.shape).sort();
    expect(tableVariables('../../../../README.md', '**data-ingest**', '**trading-algo**')).toEqual(keys);
    expect(tableVariables('../../../../docs/data-ingest.md', '## 6. Configuration', '**Shutdown.**')).toEqual(
      keys,
    );
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
