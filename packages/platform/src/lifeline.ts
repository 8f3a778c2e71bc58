import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Shutdown } from './shutdown.js';

/**
 * Environment variable that asks a service to watch a lifeline. `stdin`: the process that started
 * it holds the write end of its standard input, and when that closes (the parent exited, was
 * killed with SIGKILL, or closed it on purpose) the service shuts down and exits. Test runners set
 * it so that no service outlives them, however they end.
 */
export const LIFELINE_ENV = 'VISUALGO_LIFELINE';

export interface LifelineOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly input?: Readable;
  readonly exit?: (code: number) => void;
}

/**
 * Watches the lifeline when the environment asks for one (see {@link LIFELINE_ENV}); returns
 * whether it does. Without the variable nothing is read from stdin, so a service started from a
 * terminal or by a supervisor behaves as before.
 */
export function watchLifeline(logger: Logger, shutdown: Shutdown, options: LifelineOptions = {}): boolean {
  const mode = (options.env ?? process.env)[LIFELINE_ENV];
  if (mode === undefined || mode === '') return false;
  if (mode !== 'stdin')
    throw new Error(`${LIFELINE_ENV} must be "stdin" or unset, got ${JSON.stringify(mode)}`);
  const input = options.input ?? process.stdin;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let lost = false;
  const onLost = () => {
    if (lost) return;
    lost = true;
    logger.warn('lifeline closed, shutting down');
    void shutdown.run('lifeline closed').finally(() => exit(0));
  };
  input.on('data', () => {}); // what the parent writes is not read; only the end matters
  input.once('end', onLost);
  input.once('close', onLost);
  input.once('error', onLost);
  return true;
}
