import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, flagsToEnv, loadConfig } from './config.js';

const schema = z.object({
  HTTP_PORT: env.port(8080),
  SYMBOLS: env.list(z.string().regex(/^[a-z0-9]+$/, 'must be a lower-case symbol'), 'btcusdt,ethusdt'),
  SPEED: env.number(1, 0.001, 10_000),
  DEBUG_MODE: env.bool(false),
  LOG_LEVEL: env.logLevel(),
  LOG_PRETTY: env.optionalBool(),
});

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults when nothing is set', () => {
    expect(loadConfig(schema, {})).toEqual({
      HTTP_PORT: 8080,
      SYMBOLS: ['btcusdt', 'ethusdt'],
      SPEED: 1,
      DEBUG_MODE: false,
      LOG_LEVEL: 'info',
      LOG_PRETTY: undefined,
    });
    expect(loadConfig(schema, { LOG_PRETTY: 'no' }).LOG_PRETTY).toBe(false);
  });

  it('parses environment strings and treats empty values as unset', () => {
    const cfg = loadConfig(schema, {
      HTTP_PORT: '9000',
      SYMBOLS: ' bnbbtc , ,ethusdt',
      SPEED: '',
      DEBUG_MODE: 'yes',
    });
    expect(cfg.HTTP_PORT).toBe(9000);
    expect(cfg.SYMBOLS).toEqual(['bnbbtc', 'ethusdt']);
    expect(cfg.SPEED).toBe(1);
    expect(cfg.DEBUG_MODE).toBe(true);
  });

  it('lets flags override the environment', () => {
    const cfg = loadConfig(schema, { HTTP_PORT: '9000' }, ['--http-port=9001', '--log-level', 'debug']);
    expect(cfg.HTTP_PORT).toBe(9001);
    expect(cfg.LOG_LEVEL).toBe('debug');
  });

  it('names every bad variable, its value and what is allowed', () => {
    const err = errorOf(() => loadConfig(schema, { HTTP_PORT: '70000', SPEED: 'fast', LOG_LEVEL: 'loud' }));
    expect(err.message).toContain('HTTP_PORT="70000": must be between 0 and 65535');
    expect(err.message).toContain('SPEED="fast"');
    expect(err.message).toContain(
      'LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent',
    );
    expect(err.issues).toHaveLength(3);
  });

  it('rejects bad list items', () => {
    const err = errorOf(() => loadConfig(schema, { SYMBOLS: 'btcusdt,BTC-USD' }));
    expect(err.message).toContain('SYMBOLS="btcusdt,BTC-USD" (item 1): must be a lower-case symbol');
  });

  it('rejects unknown flags and lists the known ones', () => {
    const err = errorOf(() => loadConfig(schema, {}, ['--htp-port=1']));
    expect(err.message).toContain('HTP_PORT');
    expect(err.message).toContain('--http-port');
  });
});

describe('secrets and long values in configuration errors', () => {
  const secretSchema = z.object({ AUTH_TOKEN: env.token(), SYMBOLS: schema.shape.SYMBOLS });

  it('never shows a secret setting, and truncates long values', () => {
    const err = errorOf(() =>
      loadConfig(secretSchema, { AUTH_TOKEN: 'tooshort', SYMBOLS: 'A'.repeat(5_000) }),
    );
    expect(err.message).toContain('AUTH_TOKEN=(hidden): must be at least 16 characters');
    expect(err.message).not.toContain('tooshort');
    expect(err.message).toContain(`SYMBOLS="${'A'.repeat(64)}…(4936 more chars)"`);
    expect(err.message.length).toBeLessThan(400);
    expect(loadConfig(secretSchema, { AUTH_TOKEN: 'a'.repeat(16) }).AUTH_TOKEN).toBe('a'.repeat(16));
  });

  it('hides the password of a URL setting that fails validation', () => {
    const natsSchema = z.object({ NATS_URL: env.natsServers() });
    const err = errorOf(() =>
      loadConfig(natsSchema, { NATS_URL: 'nats://gateway:s3cretpass@nats:4222,http://x' }),
    );
    expect(err.message).toContain('NATS_URL="nats://gateway:***@nats:4222,http://x" (item 1)');
    expect(err.message).not.toContain('s3cretpass');
  });

  it('does not show the value of a malformed flag, which may be a secret', () => {
    const err = errorOf(() => flagsToEnv(['--auth_token=hunter2hunter2hunter2']));
    expect(err.message).toBe('Invalid command-line flag "--auth_token=…": flags look like --name=value');
  });
});

describe('flagsToEnv', () => {
  it('maps boolean flags to true and ignores positional arguments', () => {
    expect(flagsToEnv(['run', '--debug-mode', '--http-port', '1'])).toEqual({
      DEBUG_MODE: 'true',
      HTTP_PORT: '1',
    });
  });

  it('rejects malformed flag names', () => {
    expect(() => flagsToEnv(['--=x'])).toThrow(ConfigError);
  });
});
