import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { simConfigSchema, simExchangeOptions } from './config.js';

describe('simConfigSchema', () => {
  it('has Binance-like defaults', () => {
    const config = simConfigSchema.parse({});
    expect(config).toMatchObject({
      SIM_PORT: 9100,
      SIM_HOST: '127.0.0.1',
      SIM_SPEED: 1,
      SIM_PING_INTERVAL_MS: 20_000,
      SIM_PONG_TIMEOUT_MS: 60_000,
      SIM_MAX_CONNECTION_MS: 86_400_000,
      SIM_MAX_STREAMS: 1024,
      SIM_MAX_MESSAGES_PER_SECOND: 5,
      SIM_REST_WEIGHT_LIMIT: 6000,
      SIM_HISTORY_DAYS: 7,
      SIM_CONTROL_API: false,
    });
    expect(config.SIM_START).toBeUndefined();
    expect(config.SIM_SYMBOLS).toBeUndefined(); // the model's three, or every symbol of a replay
    expect(config.SIM_REPLAY).toBeUndefined();
  });

  it('takes replay paths and the speed max', () => {
    const config = simConfigSchema.parse({ SIM_REPLAY: ' ../data/a , b.zip,', SIM_SPEED: 'max' });
    expect([config.SIM_REPLAY, config.SIM_SPEED]).toEqual([['../data/a', 'b.zip'], 'max']);
    expect(simConfigSchema.parse({ SIM_REPLAY: '' }).SIM_REPLAY).toBeUndefined();
    expect(simExchangeOptions(config)).toMatchObject({ replay: ['../data/a', 'b.zip'], speed: 'max' });
  });

  it('parses start times as ISO-8601 or epoch milliseconds, and symbol lists', () => {
    expect(simConfigSchema.parse({ SIM_START: '2025-01-15T12:00:00Z' }).SIM_START).toBe(
      Date.UTC(2025, 0, 15, 12),
    );
    expect(simConfigSchema.parse({ SIM_START: '1736942400000' }).SIM_START).toBe(1736942400000);
    expect(simConfigSchema.parse({ SIM_SYMBOLS: ' solusdt, ethbtc ' }).SIM_SYMBOLS).toEqual([
      'SOLUSDT',
      'ETHBTC',
    ]);
  });

  it('rejects bad values with readable messages', () => {
    const result = simConfigSchema.safeParse({
      SIM_START: 'soon',
      SIM_SPEED: '0',
      SIM_PORT: '70000',
      SIM_SYMBOLS: 'btc-usdt',
    });
    expect(result.success).toBe(false);
    const messages = result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^SIM_START: must be an ISO-8601 time/),
        expect.stringMatching(/^SIM_SPEED: must be a number greater than 0 and at most 100000, or max/),
        'SIM_PORT: must be at most 65535',
        expect.stringMatching(/^SIM_SYMBOLS\.0: symbols are 2-20 letters or digits/),
      ]),
    );
  });

  it('maps to exchange options', () => {
    const options = simExchangeOptions(
      simConfigSchema.parse({ SIM_SPEED: '60', SIM_SEED: 'abc', SIM_CONTROL_API: 'true' }),
    );
    expect(options).toMatchObject({
      speed: 60,
      seed: 'abc',
      clock: 'scaled',
      port: 9100,
      maxStreamsPerConnection: 1024,
      controlApi: true,
    });
    expect(simExchangeOptions(simConfigSchema.parse({})).controlApi).toBe(false);
  });
});

describe('.env.example', () => {
  it('documents every variable', () => {
    const text = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../.env.example'), 'utf8');
    const listed = new Set([...text.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
    expect([...Object.keys(simConfigSchema.shape)].filter((k) => !listed.has(k))).toEqual([]);
  });
});
