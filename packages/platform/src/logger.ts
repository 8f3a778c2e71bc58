import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

export interface LoggerConfig {
  readonly name: string;
  readonly level: string;
  /** Human-readable output; default: when stdout is a terminal. */
  readonly pretty?: boolean;
}

/** JSON logs by default (one object a line), pretty-printed in a terminal. */
export function createLogger(config: LoggerConfig, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = {
    name: config.name,
    level: config.level,
    base: { service: config.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  const pretty = config.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino(options);
}

/**
 * Lets through at most `max` log calls per key in each `windowMs`, and reports how many were
 * suppressed, so a flood of bad frames cannot flood the logs.
 */
export class LogThrottle {
  private readonly windows = new Map<string, { startMs: number; count: number; suppressed: number }>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns null when the call should be dropped, otherwise the number suppressed since the last one let through. */
  take(key: string): number | null {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.startMs >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { startMs: t, count: 0, suppressed: 0 };
      this.windows.set(key, w);
      w.count++;
      return suppressed;
    }
    if (w.count < this.max) {
      w.count++;
      return 0;
    }
    w.suppressed++;
    return null;
  }
}
