import {
  createLogger,
  installProcessHandlers,
  isWsWorkerProcess,
  loadConfig,
  Shutdown,
  watchLifeline,
} from '@visualgo/platform';
import { ingestConfigSchema } from './app/config.js';
import { startIngestService } from './app/ingest-service.js';
import { runMarketWsWorker } from './ws/market-ws-worker.js';

// With WS_WORKERS, this same program is forked as the WebSocket worker processes.
if (isWsWorkerProcess()) runMarketWsWorker();
else await main();

async function main(): Promise<void> {
  const config = (() => {
    try {
      return loadConfig(ingestConfigSchema, process.env, process.argv.slice(2));
    } catch (err) {
      process.stderr.write(`data-ingest: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    }
  })();
  const logger = createLogger({
    name: 'data-ingest',
    level: config.LOG_LEVEL,
    ...(config.LOG_PRETTY === undefined ? {} : { pretty: config.LOG_PRETTY }),
  });
  const shutdown = new Shutdown(logger, 5_000);
  installProcessHandlers(logger, shutdown);
  watchLifeline(logger, shutdown);
  const service = await startIngestService(config, logger).catch((err: unknown) => {
    logger.fatal({ err }, 'data-ingest failed to start');
    process.exit(1);
  });
  shutdown.register('data-ingest', () => service.close());
  logger.info(
    { grpcPort: service.grpcPort, httpPort: service.httpPort, ws: `ws://localhost:${service.httpPort}/ws` },
    'data-ingest started',
  );
}
