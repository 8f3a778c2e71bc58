import {
  ConfigError,
  createLogger,
  createMetrics,
  installProcessHandlers,
  isWsWorkerProcess,
  Shutdown,
  watchLifeline,
} from '@visualgo/platform';
import { startTradingAlgo } from './app.js';
import { loadAlgoConfig } from './config.js';
import { runAlgoWsWorker } from './ws/algo-ws-worker.js';

// With WS_WORKERS, this same program is forked as the WebSocket worker processes.
if (isWsWorkerProcess()) runAlgoWsWorker();
else await main();

function loadOrExit() {
  try {
    return loadAlgoConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`trading-algo: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadOrExit();
  const logger = createLogger({
    name: 'trading-algo',
    level: config.LOG_LEVEL,
    ...(config.LOG_PRETTY === undefined ? {} : { pretty: config.LOG_PRETTY }),
  });
  const shutdown = new Shutdown(logger);
  installProcessHandlers(logger, shutdown);
  watchLifeline(logger, shutdown);
  try {
    await startTradingAlgo(config, { logger, registry: createMetrics('trading-algo'), shutdown });
  } catch (err) {
    logger.fatal({ err }, 'trading-algo failed to start');
    await shutdown.run('start failed');
    process.exit(1);
  }
}
