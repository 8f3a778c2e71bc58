import type { Logger } from 'pino';

type StopFn = () => Promise<void> | void;

/**
 * Stops components in reverse order of registration (last started, first stopped), each
 * bounded by a share of the overall deadline, so one stuck component cannot hold the exit.
 */
export class Shutdown {
  private readonly steps: { name: string; stop: StopFn }[] = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs = 5_000,
  ) {}

  register(name: string, stop: StopFn): void {
    this.steps.push({ name, stop });
  }

  get started(): boolean {
    return this.running !== null;
  }

  /** Idempotent: a second call returns the first call's promise. */
  run(reason: string): Promise<void> {
    this.running ??= this.execute(reason);
    return this.running;
  }

  private async execute(reason: string): Promise<void> {
    this.logger.info({ reason }, 'shutting down');
    const deadline = Date.now() + this.timeoutMs;
    for (const step of [...this.steps].reverse()) {
      const remaining = Math.max(1, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(step.stop),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${remaining} ms`)), remaining);
          }),
        ]);
        this.logger.debug({ component: step.name }, 'component stopped');
      } catch (err) {
        this.logger.error({ component: step.name, err }, 'component failed to stop cleanly');
      } finally {
        clearTimeout(timer);
      }
    }
    this.logger.info('shutdown complete');
  }
}

/**
 * SIGTERM/SIGINT run the shutdown then exit 0; a second signal exits at once. Unhandled
 * rejections and uncaught exceptions are logged as fatal and exit non-zero after a best-effort
 * shutdown.
 */
export function installProcessHandlers(logger: Logger, shutdown: Shutdown, exit = process.exit): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (shutdown.started) {
      logger.warn({ signal }, 'second signal, exiting now');
      exit(1);
      return;
    }
    void shutdown.run(signal).then(() => exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const onFatal = (kind: string) => (err: unknown) => {
    logger.fatal({ err }, kind);
    void shutdown.run(kind).finally(() => exit(1));
  };
  process.on('uncaughtException', onFatal('uncaught exception'));
  process.on('unhandledRejection', onFatal('unhandled rejection'));
}
