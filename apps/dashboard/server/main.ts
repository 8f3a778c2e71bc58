import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, createLogger, installProcessHandlers, Shutdown } from '@visualgo/platform';
import { loadDashboardConfig } from './config.js';
import { runtimeConfigFor } from './runtime-config.js';
import { startStaticServer } from './static-server.js';

function loadOrExit() {
  try {
    return loadDashboardConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dashboard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** The built page: beside the bundle (dist/server/main.js -> dist/public) or, from source, in dist/public. */
function staticRoot(configured: string | undefined): string {
  if (configured) return configured;
  const candidates = ['../public', '../dist/public'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((dir) => existsSync(`${dir}/index.html`)) ?? (candidates[0] as string);
}

const config = loadOrExit();
const logger = createLogger({
  name: 'dashboard',
  level: config.LOG_LEVEL,
  ...(config.LOG_PRETTY !== undefined ? { pretty: config.LOG_PRETTY } : {}),
});
const shutdown = new Shutdown(logger);
installProcessHandlers(logger, shutdown);
try {
  const root = staticRoot(config.DASHBOARD_STATIC_DIR);
  const server = await startStaticServer({
    host: config.DASHBOARD_HOST,
    port: config.DASHBOARD_PORT,
    root,
    logger,
    runtimeConfig: (req) =>
      runtimeConfigFor(config, {
        host: req.headers.host,
        secure: req.headers['x-forwarded-proto'] === 'https',
      }),
  });
  shutdown.register('http', () => server.close());
  logger.info(
    { url: `http://localhost:${server.port}/`, host: config.DASHBOARD_HOST, port: server.port, root },
    'dashboard listening',
  );
} catch (err) {
  logger.fatal({ err }, 'dashboard failed to start');
  await shutdown.run('start failed');
  process.exit(1);
}
