import { z } from 'zod';
import { MIN_TOKEN_LENGTH } from './bearer-auth.js';
import { truncateInput } from './truncate-input.js';

/** Settings whose values are secrets: never echoed in errors (or anywhere else). */
export function isSecretSetting(name: string): boolean {
  return /TOKEN|SECRET|PASSWORD/i.test(name);
}

/** Raised when configuration fails validation; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Converts `--sim-port=9100` / `--sim-port 9100` / `--verbose` into `{ SIM_PORT: '9100', VERBOSE: 'true' }`. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === undefined || !arg.startsWith('--') || arg === '--') continue;
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    let name: string;
    let value: string;
    if (eq >= 0) {
      name = body.slice(0, eq);
      value = body.slice(eq + 1);
    } else {
      name = body;
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      } else {
        value = 'true';
      }
    }
    if (!/^[a-zA-Z][a-zA-Z0-9-]*$/.test(name)) {
      // The value is not shown: it may be a secret given under a misspelt name.
      const shown = truncateInput(eq >= 0 ? `${arg.slice(0, eq + 2)}=…` : arg);
      throw new ConfigError(`Invalid command-line flag "${shown}": flags look like --name=value`, [shown]);
    }
    out[name.replaceAll('-', '_').toUpperCase()] = value;
  }
  return out;
}

/** `nats://user:secret@host` -> `nats://user:***@host`: a URL's password is never echoed. */
export function redactUrlCredentials(value: string): string {
  return value.replace(/(\/\/[^:/?#@\s,]*):[^@/?#\s,]*@/g, '$1:***@');
}

function describeIssue(
  issue: z.core.$ZodIssue,
  source: Readonly<Record<string, string | undefined>>,
): string {
  // The variable is the first path element; deeper elements point into a parsed value (a list item).
  const [variable, ...inner] = issue.path.map(String);
  const raw = variable === undefined ? undefined : source[variable];
  const shown =
    raw === undefined
      ? 'not set'
      : variable !== undefined && isSecretSetting(variable)
        ? '(hidden)'
        : `"${truncateInput(redactUrlCredentials(raw))}"`;
  const where = inner.length > 0 ? ` (item ${inner.join('.')})` : '';
  return `${variable ?? '(root)'}=${shown}${where}: ${issue.message}`;
}

/**
 * Validates configuration once, at start. Command-line flags override environment variables.
 * Keys the schema does not know are ignored (the environment holds much else), except flags:
 * an unknown flag is a mistake and is rejected.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[] = [],
): z.infer<S> {
  const flags = flagsToEnv(argv);
  const known = new Set(Object.keys(schema.shape));
  const unknownFlags = Object.keys(flags).filter((k) => !known.has(k));
  if (unknownFlags.length > 0) {
    const allowed = [...known].map((k) => `--${k.toLowerCase().replaceAll('_', '-')}`).join(', ');
    throw new ConfigError(
      `Unknown command-line flag(s): ${unknownFlags.join(', ')}. Known flags: ${allowed}`,
      [...unknownFlags],
    );
  }
  const source: Record<string, string | undefined> = {};
  for (const key of known) {
    const value = flags[key] ?? env[key];
    // An empty variable (FOO=) means "use the default", as in most twelve-factor services.
    source[key] = value === '' ? undefined : value;
  }
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => describeIssue(issue, source));
    throw new ConfigError(`Invalid configuration:\n  ${issues.join('\n  ')}`, issues, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Helpers for env-style fields (all arrive as strings). */
export const env = {
  port: (fallback: number) =>
    z.coerce
      .number({ error: 'must be a port number' })
      .int('must be an integer port')
      .min(0, 'must be between 0 and 65535')
      .max(65535, 'must be between 0 and 65535')
      .default(fallback),
  int: (fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be an integer')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(fallback),
  number: (fallback: number, min = -Number.MAX_VALUE, max = Number.MAX_VALUE) =>
    z.coerce
      .number({ error: 'must be a number' })
      .refine(Number.isFinite, 'must be a finite number')
      .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
      .default(fallback),
  /** A boolean that may stay unset (undefined), for settings whose default is decided at run time. */
  optionalBool: () =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be one of true, false, 1, 0, yes, no' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .optional(),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be one of true, false, 1, 0, yes, no' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),
  /** Comma-separated list; each item trimmed, empties dropped. */
  list: <T extends z.ZodType<unknown, string>>(item: T, fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .pipe(z.array(item).min(1, 'must list at least one value')),
  /**
   * A secret shared token (bearer auth); unset disables it. At least 16 visible ASCII
   * characters, no spaces. Its value is never echoed in a configuration error.
   */
  token: () =>
    z
      .string()
      .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters without spaces')
      .min(MIN_TOKEN_LENGTH, `must be at least ${MIN_TOKEN_LENGTH} characters`)
      .optional(),
  /** Comma-separated IP addresses (reverse proxies); empty: none. */
  ipList: () =>
    z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .pipe(z.array(z.union([z.ipv4(), z.ipv6()], { error: 'must be IP addresses' }))),
  /**
   * NATS server URLs, comma-separated (`nats://nats:4222,nats://nats-2:4222`); unset or empty:
   * undefined (the service runs without NATS).
   */
  natsServers: () =>
    z
      .string()
      .optional()
      .transform((v) =>
        (v ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .pipe(
        z.array(
          z.string().regex(/^(nats|tls):\/\/[^\s/,]+$/, 'must be nats:// URLs (host:port), comma-separated'),
        ),
      )
      .transform((list) => (list.length === 0 ? undefined : list)),
  logLevel: () =>
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
};
