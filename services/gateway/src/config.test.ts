import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '@visualgo/platform';
import { describe, expect, it } from 'vitest';
import { gatewayConfigSchema, restUrlOf, venueOf } from './config.js';

const load = (env: Record<string, string>) => loadConfig(gatewayConfigSchema, env, []);

describe('gateway config', () => {
  it('needs NATS_URL, and otherwise takes the services public ports', () => {
    expect(() => load({})).toThrow(ConfigError);
    expect(() => load({})).toThrow(/NATS_URL.*required/);
    const config = load({ NATS_URL: 'nats://nats:4222' });
    expect([config.INGEST_HTTP_PORT, config.INGEST_GRPC_PORT, config.ALGO_HTTP_PORT]).toEqual([
      8080, 50051, 8090,
    ]);
    expect(venueOf(config)).toBe('binance');
    expect(restUrlOf(config)).toBe('https://api.binance.com');
    const sim = load({
      NATS_URL: 'nats://nats:4222',
      MARKET_SOURCE: 'sim',
      SIM_URL: 'http://sim-exchange:9100',
    });
    expect([venueOf(sim), restUrlOf(sim)]).toEqual(['binance-sim', 'http://sim-exchange:9100']);
  });

  it('.env.example documents every variable, and the README lists every one', () => {
    const example: Record<string, string> = {};
    for (const line of readFileSync(new URL('../.env.example', import.meta.url), 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m?.[1] !== undefined) example[m[1]] = m[2] ?? '';
    }
    const keys = Object.keys(gatewayConfigSchema.shape).sort();
    expect(Object.keys(example).sort()).toEqual(keys);
    expect(load({ ...example, NATS_URL: 'nats://a:4222' })).toEqual(load({ NATS_URL: 'nats://a:4222' }));
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('**gateway**'), readme.indexOf('## Development'));
    const listed = [...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` +\|/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(keys);
  });
});
