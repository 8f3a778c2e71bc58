import {
  ConfigError,
  createLogger,
  createMetrics,
  installProcessHandlers,
  loadConfig,
  Shutdown,
  watchLifeline,
} from '@visualgo/platform';
import { type SimConfig, simConfigSchema, simExchangeOptions } from './config.js';
import { ReplayError, ReplayFileError } from './replay/replay-error.js';
import { type SimExchange, startSimExchange } from './sim-exchange.js';

let config: SimConfig;
try {
  config = loadConfig(simConfigSchema, process.env, process.argv.slice(2));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`sim-exchange: ${err.message}\n`);
  process.exit(2);
}
const logger = createLogger({ name: 'sim-exchange', level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
const shutdown = new Shutdown(logger);
installProcessHandlers(logger, shutdown);
watchLifeline(logger, shutdown);

let sim: SimExchange;
try {
  sim = await startSimExchange({
    ...simExchangeOptions(config, logger),
    metrics: createMetrics('sim-exchange'),
  });
} catch (err) {
  // Bad replay files or a start outside them: say which file and line, start nothing.
  if (!(err instanceof ReplayFileError || err instanceof ReplayError)) throw err;
  process.stderr.write(`sim-exchange: ${err.message}\n`);
  process.exit(2);
}
shutdown.register('sim-exchange', () => sim.close());
logger.info(
  {
    rest: sim.httpUrl,
    streams: sim.wsUrl,
    control: sim.controlUrl ?? 'off (SIM_CONTROL_API=true enables it)',
    metrics: `${sim.httpUrl}/metrics`,
    speed: config.SIM_SPEED,
    startMs: sim.startMs,
    start: new Date(sim.startMs).toISOString(),
    replay: sim.replay
      ? { streams: sim.status().replay?.streams, end: new Date(sim.replay.endMs).toISOString() }
      : undefined,
  },
  'simulated Binance ready',
);
