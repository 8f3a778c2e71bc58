/** The logging surface the library needs; a pino `Logger` satisfies it. */
export interface SimLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(bindings: Record<string, unknown>): SimLogger;
}

const noop = (): void => {};

export const silentLogger: SimLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
