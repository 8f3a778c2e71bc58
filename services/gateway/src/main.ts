import { createLogger, installProcessHandlers, loadConfig, Shutdown } from '@visualgo/platform';
import { gatewayConfigSchema } from './config.js';
import { startGateway } from './gateway-service.js';

const config = (() => {
  try {
    return loadConfig(gatewayConfigSchema, process.env, process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`gateway: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
})();
const logger = createLogger({
  name: 'gateway',
  level: config.LOG_LEVEL,
  ...(config.LOG_PRETTY === undefined ? {} : { pretty: config.LOG_PRETTY }),
});
const shutdown = new Shutdown(logger, 5_000);
installProcessHandlers(logger, shutdown);
const gateway = await startGateway(config, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'gateway failed to start');
  process.exit(1);
});
shutdown.register('gateway', () => gateway.close());
