// Checks, without a Docker engine, that each image's Dockerfile (the four services and the
// dashboard) matches the repository and that the image it describes would run:
//   1. every COPY source exists, every `npm run X -w W` names a real workspace script;
//   2. the build stage's command produces the CMD's entry file;
//   3. the runtime stage is reproduced in a scratch folder (same package files, the same
//      `npm ci --omit=dev -w ...`, proto/ and the build output), and the five run from there as a
//      system (sim-exchange -> data-ingest -> trading-algo, dashboard, and a gateway on a
//      nats-server started for it) until each HEALTHCHECK URL answers 200 (and the dashboard
//      serves its page and /config.json), then stop cleanly on SIGTERM;
//   4. compose.yaml validates with `docker-compose config -q` when docker-compose is installed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const services = ['sim-exchange', 'data-ingest', 'trading-algo', 'dashboard', 'gateway'];
/** Where each image's Dockerfile and build output live. */
const dirs = {
  'sim-exchange': 'services/sim-exchange',
  'data-ingest': 'services/data-ingest',
  'trading-algo': 'services/trading-algo',
  dashboard: 'apps/dashboard',
  gateway: 'services/gateway',
};
const problems = [];
const log = (msg) => console.log(`check-images: ${msg}`);

function workspaceScripts(name) {
  for (const dir of ['packages', 'services', 'apps']) {
    const file = join(root, dir, name.replace('@visualgo/', ''), 'package.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).scripts ?? {};
  }
  return null;
}

function parseDockerfile(service) {
  const text = readFileSync(join(root, dirs[service], 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = [];
  for (const line of lines) {
    const [instr, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (instr === 'FROM') stages.push({ from: args, steps: [] });
    else stages.at(-1)?.steps.push({ instr, args });
  }
  return stages;
}

// 1 and 2: static checks.
const runtimes = {};
for (const service of services) {
  const stages = parseDockerfile(service);
  if (stages.length < 2) problems.push(`${service}: expected a multi-stage Dockerfile`);
  for (const stage of stages) {
    for (const { instr, args } of stage.steps) {
      if (instr === 'COPY' && !args.startsWith('--from')) {
        const parts = args.split(/\s+/);
        for (const src of parts.slice(0, -1)) {
          if (!existsSync(join(root, src))) problems.push(`${service}: COPY source ${src} does not exist`);
        }
      }
      if (instr === 'RUN') {
        for (const m of args.matchAll(/npm run (\S+) -w (\S+)/g)) {
          const scripts = workspaceScripts(m[2]);
          if (!scripts) problems.push(`${service}: RUN names unknown workspace ${m[2]}`);
          else if (!scripts[m[1]]) problems.push(`${service}: workspace ${m[2]} has no "${m[1]}" script`);
        }
      }
    }
  }
  const runtime = stages.at(-1);
  const cmd = runtime?.steps.find((s) => s.instr === 'CMD');
  const health = runtime?.steps.find((s) => s.instr === 'HEALTHCHECK');
  const install = runtime?.steps.find((s) => s.instr === 'RUN' && s.args.includes('npm ci'));
  const entry = cmd ? JSON.parse(cmd.args).at(-1) : undefined;
  const healthUrl = health?.args.match(
    /'http:\/\/127\.0\.0\.1:' \+ \(process\.env\.(\w+) \|\| (\d+)\) \+ '([^']+)'/,
  );
  if (!entry) problems.push(`${service}: runtime stage has no CMD`);
  if (!healthUrl) problems.push(`${service}: HEALTHCHECK does not have the expected fetch form`);
  if (!install) problems.push(`${service}: runtime stage does not install dependencies with npm ci`);
  runtimes[service] = { entry, install: install?.args, portVar: healthUrl?.[1], path: healthUrl?.[3] };
  const build = stages[0]?.steps.filter((s) => s.instr === 'RUN').at(-1);
  log(`${service}: ${build?.args}`);
  execFileSync('sh', ['-c', build?.args ?? 'false'], { cwd: root, stdio: 'inherit' });
  if (entry && !existsSync(join(root, entry))) problems.push(`${service}: build does not produce ${entry}`);
}
if (problems.length > 0) fail();

// 3: reproduce each runtime stage and run the system from there.
function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'visualgo-images-'));
const children = [];
try {
  const manifests = [
    'package.json',
    'package-lock.json',
    ...['market', 'contracts', 'platform', 'bus', 'testing'].map((p) => `packages/${p}/package.json`),
    ...services.map((s) => `${dirs[s]}/package.json`),
  ];
  for (const service of services) {
    const dir = join(scratch, service);
    for (const f of manifests) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      cpSync(join(root, f), join(dir, f));
    }
    // The install command alone: cleaning the npm cache belongs to the image, not to this machine.
    const install = runtimes[service].install.split('&&')[0].trim();
    log(`${service}: ${install}`);
    execFileSync('sh', ['-c', install], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    cpSync(join(root, 'proto'), join(dir, 'proto'), { recursive: true });
    cpSync(join(root, dirs[service], 'dist'), join(dir, dirs[service], 'dist'), { recursive: true });
  }
  const [simPort, ingestHttp, ingestGrpc, algoHttp, dashboardPort, natsPort, gwHttp, gwGrpc, gwAlgo] =
    await Promise.all(Array.from({ length: 9 }, freePort));
  // The gateway image runs against a NATS server (Debian's nats-server, as the tests use).
  const natsBin = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) =>
    existsSync(p),
  );
  if (!natsBin) {
    problems.push(
      'nats-server not installed (apt-get install -y nats-server): the gateway image cannot be run',
    );
    fail();
  }
  const natsStore = join(scratch, 'nats');
  const nats = spawn(natsBin, ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', natsStore], {
    stdio: 'ignore',
  });
  children.push({ service: 'nats-server', child: nats, env: {} });
  const envs = {
    'sim-exchange': { SIM_HOST: '127.0.0.1', SIM_PORT: String(simPort) },
    'data-ingest': {
      MARKET_SOURCE: 'sim',
      SIM_URL: `http://127.0.0.1:${simPort}`,
      INGEST_HOST: '127.0.0.1',
      INGEST_HTTP_PORT: String(ingestHttp),
      INGEST_GRPC_PORT: String(ingestGrpc),
      HISTORY_CANDLES: '100',
    },
    'trading-algo': {
      INGEST_GRPC_URL: `127.0.0.1:${ingestGrpc}`,
      ALGO_HOST: '127.0.0.1',
      ALGO_HTTP_PORT: String(algoHttp),
    },
    dashboard: {
      DASHBOARD_HOST: '127.0.0.1',
      DASHBOARD_PORT: String(dashboardPort),
      DASHBOARD_ALGO_PORT: String(algoHttp),
      DASHBOARD_INGEST_PORT: String(ingestHttp),
    },
    gateway: {
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      MARKET_SOURCE: 'sim',
      SIM_URL: `http://127.0.0.1:${simPort}`,
      GATEWAY_HOST: '127.0.0.1',
      INGEST_HTTP_PORT: String(gwHttp),
      INGEST_GRPC_PORT: String(gwGrpc),
      ALGO_HTTP_PORT: String(gwAlgo),
    },
  };
  for (const service of services) {
    const env = { PATH: process.env.PATH, NODE_ENV: 'production', LOG_LEVEL: 'warn', ...envs[service] };
    const child = spawn(process.execPath, ['--enable-source-maps', runtimes[service].entry], {
      cwd: join(scratch, service),
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push({ service, child, env });
  }
  for (const { service, env } of children) {
    if (service === 'nats-server') continue;
    const { portVar, path } = runtimes[service];
    const url = `http://127.0.0.1:${env[portVar]}${path}`;
    let ok = false;
    for (let i = 0; i < 120 && !ok; i++) {
      ok = await fetch(url).then(
        (r) => r.ok,
        () => false,
      );
      if (!ok) await new Promise((r) => setTimeout(r, 500));
    }
    if (ok) log(`${service}: healthy at ${url}`);
    else problems.push(`${service}: ${url} never answered 200`);
  }
  // The dashboard image serves its built page (precompressed) and the backends' URLs.
  const dashboardUrl = `http://127.0.0.1:${dashboardPort}`;
  const page = await fetch(`${dashboardUrl}/`).then((r) => r.text(), String);
  const script = /<script type="module"[^>]* src="([^"]+)"/.exec(page)?.[1];
  const asset = script
    ? await fetch(`${dashboardUrl}${script}`, { headers: { 'accept-encoding': 'br' } })
    : null;
  if (!asset?.ok) problems.push(`dashboard: page or its script (${script}) not served`);
  const config = await fetch(`${dashboardUrl}/config.json`).then((r) => r.json(), String);
  if (config?.algoWsUrl !== `ws://127.0.0.1:${algoHttp}/ws`) {
    problems.push(`dashboard: /config.json does not name trading-algo: ${JSON.stringify(config)}`);
  } else log('dashboard: serves its page and /config.json');
  for (const { service, child } of [...children].reverse()) {
    if (service === 'nats-server') {
      child.kill('SIGTERM');
      continue;
    }
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 6_000))]);
    if (code !== 0) problems.push(`${service}: exit after SIGTERM was ${code}, expected 0 within 6 s`);
  }
} finally {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
}

// 4: compose file, and the root .env.example lists exactly the variables it substitutes.
const composeVars = new Set(
  [...readFileSync(join(root, 'compose.yaml'), 'utf8').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]),
);
const exampleVars = new Set(
  readFileSync(join(root, '.env.example'), 'utf8')
    .split('\n')
    .map((l) => /^([A-Z_]+)=/.exec(l)?.[1])
    .filter(Boolean),
);
for (const v of composeVars)
  if (!exampleVars.has(v)) problems.push(`.env.example does not document ${v}, used in compose.yaml`);
for (const v of exampleVars)
  if (!composeVars.has(v)) problems.push(`.env.example lists ${v}, which compose.yaml does not use`);

const compose = spawnSync('docker-compose', ['-f', join(root, 'compose.yaml'), 'config', '-q'], {
  encoding: 'utf8',
});
if (compose.error) log('docker-compose not installed: compose.yaml not validated');
else if (compose.status !== 0) problems.push(`compose.yaml: ${compose.stderr.trim()}`);
else log('compose.yaml is valid');

if (problems.length > 0) fail();
log('images match the repository and run');

function fail() {
  console.error(`check-images: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
