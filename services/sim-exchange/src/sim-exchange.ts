import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parseStreamName } from '@visualgo/market';
import { createMetrics, parseRequestTarget } from '@visualgo/platform';
import type { Registry } from 'prom-client';
import { ControlApi } from './control-api.js';
import { allowedHostOf } from './control-guard.js';
import {
  type MalformedKind,
  malformedFrame,
  type RefuseMode,
  type RestFaultSpec,
  RestFaults,
} from './faults.js';
import { GroundTruth } from './ground-truth.js';
import { MarketFeed } from './market-feed.js';
import { BLOCK_MS } from './market-model.js';
import { PacedPump } from './paced-pump.js';
import type { ReplayData, ReplayOptions } from './replay/replay-data.js';
import { RequestWeight } from './request-weight.js';
import { RestApi, sendJson } from './rest-server.js';
import { type ClockKind, ManualClock, ScaledClock, type SimClock } from './sim-clock.js';
import { type SimLogger, silentLogger } from './sim-logger.js';
import { chooseMarket, DEFAULT_SYMBOLS } from './sim-market.js';
import { SimMetrics } from './sim-metrics.js';
import {
  type CloseReason,
  type ConnectionFilter,
  type ConnectionInfo,
  rejectUpgrade,
  StreamServer,
  type StreamServerEvents,
} from './ws-server.js';

const DAY_MS = 86_400_000;

export { DEFAULT_SYMBOLS };

export interface SimExchangeOptions {
  /** Default 127.0.0.1. The control API answers loopback peers only, whatever the host. */
  readonly host?: string;
  /**
   * Serve the control API (`/sim/...`) over HTTP. Default false: a simulator nobody asked to be
   * driven over HTTP cannot be. The handle's methods work either way.
   */
  readonly controlApi?: boolean;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Default `visualgo`. Unused by a replay. */
  readonly seed?: string;
  /**
   * Market time at start; default now, floored to the minute. For a replay: a time within the
   * data (REST serves history before it, streams play from it); default one day into the data.
   */
  readonly startMs?: number;
  /**
   * Market ms per wall ms (scaled clock), default 1; or `'max'`: as fast as the stream clients
   * take the data (market time moves while an unstalled stream connection is open, held back by
   * the slowest reader; see `PacedPump`).
   */
  readonly speed?: number | 'max';
  /** `manual`: market time moves only through `advance()`. Default `scaled` (or paced for `speed: 'max'`). */
  readonly clock?: 'scaled' | 'manual';
  /**
   * Simulated symbols (any case). Default BTCUSDT, ETHUSDT, BNBBTC. With a replay: only these of
   * the replay's symbols (default all).
   */
  readonly symbols?: readonly string[];
  /** Days of market before the start day, served by REST klines. Default 7. Unused by a replay. */
  readonly historyDays?: number;
  /**
   * Replay recorded Binance market data instead of the seeded model: loaded data
   * (`loadReplay`), or the files and folders to load (the exchange then closes them with itself).
   */
  readonly replay?: ReplayData | ReplayOptions | readonly string[];
  readonly pingIntervalMs?: number;
  readonly pongTimeoutMs?: number;
  readonly maxConnectionMs?: number;
  readonly maxStreamsPerConnection?: number;
  readonly maxMessagesPerSecond?: number;
  readonly maxBufferedBytes?: number;
  /** REST request weight per IP per minute. Default 6000. */
  readonly restWeightLimit?: number;
  /** 429s in one window before the IP is banned with 418. Default 5. */
  readonly restBanAfterRejections?: number;
  readonly restBanMs?: number;
  /** Wall ms between market pumps with a scaled clock. Default 20. */
  readonly pumpIntervalMs?: number;
  /** Wall clock for liveness, rate limits and fault durations (tests may inject one). */
  readonly wallNowMs?: () => number;
  readonly logger?: SimLogger;
  /**
   * Registry for the `sim_*` metrics served at `GET /metrics`; one registry per simulator.
   * Default: a fresh one without Node's process metrics (`main.ts` passes `createMetrics`).
   */
  readonly metrics?: Registry;
}

export interface DropOptions extends ConnectionFilter {
  /** Send a close frame (default true) or cut the TCP connection without one. */
  readonly closeFrame?: boolean;
  readonly code?: number;
  readonly reason?: string;
}

export interface StallOptions extends ConnectionFilter {
  /** Default: until unstalled or dropped. */
  readonly durationMs?: number;
}

export interface ShutdownOptions extends ConnectionFilter {
  /** Wall ms between the `serverShutdown` event and the close; null keeps the connection. Default 1000. */
  readonly closeAfterMs?: number | null;
}

export interface RefuseOptions {
  /** Default: until `acceptConnections()`. */
  readonly durationMs?: number;
  /** `http-503` answers upgrades with 503, `reset` cuts them, `unlisten` closes the port (ECONNREFUSED). */
  readonly mode?: RefuseMode;
}

/** A replay's data and progress. */
export interface ReplayStatus {
  readonly paths: readonly string[];
  /** Streams with data, e.g. `ethusdt@kline_1m`, `ethusdt@trade`. */
  readonly streams: readonly string[];
  readonly firstMs: number;
  readonly endMs: number;
  /** Market time has reached the end of the data: nothing more will be sent. */
  readonly finished: boolean;
}

export interface SimStatus {
  readonly seed: string;
  /** `model`: the seeded simulated market; `replay`: recorded Binance data. */
  readonly market: 'model' | 'replay';
  readonly marketTimeMs: number;
  readonly startMs: number;
  readonly originMs: number;
  readonly clock: ClockKind;
  /** Market ms per wall ms; 0 for the manual clock, `max` for the paced one. */
  readonly speed: number | 'max';
  readonly paused: boolean;
  readonly symbols: readonly string[];
  readonly connections: number;
  readonly refusing: RefuseMode | null;
  readonly restFaults: readonly RestFaultSpec[];
  readonly replay: ReplayStatus | null;
}

/** The running simulated exchange: URLs, fault hooks, ground truth, and `close()`. */
export interface SimExchange {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`: REST base URL (`/api/v3/...`). */
  readonly httpUrl: string;
  /** `ws://host:port`: stream base URL (`/ws/<stream>`, `/stream?streams=`). */
  readonly wsUrl: string;
  /** `http://host:port/sim`: the control API; null when it is off (`controlApi` not set). */
  readonly controlUrl: string | null;
  readonly seed: string;
  readonly startMs: number;
  /** First instant with market data. */
  readonly originMs: number;
  readonly symbols: readonly string[];
  readonly truth: GroundTruth;
  /** The replayed data, or null for the seeded model. */
  readonly replay: ReplayData | null;
  /** The registry behind `GET /metrics`. */
  readonly metrics: Registry;
  marketNowMs(): number;
  status(): SimStatus;
  /** Manual clock only: moves market time forward and emits everything due, synchronously. */
  advance(ms: number): void;
  pauseMarket(): void;
  resumeMarket(): void;
  /**
   * A clock that jumps: market time leaps `ms` forward at once and everything due is sent (as fast
   * as the clients take it); scaled or manual clock (else `ClockModeError`). Counted as a
   * `clock-jump` fault.
   */
  jumpClock(ms: number): void;
  /** Scaled clock only (else `ClockModeError`): market time runs at `speed` times wall time from now on. */
  setSpeed(speed: number): void;
  connections(filter?: ConnectionFilter): ConnectionInfo[];
  /** Resolves once at least `count` stream connections are open. */
  waitForConnections(count: number, timeoutMs?: number): Promise<ConnectionInfo[]>;
  dropConnections(options?: DropOptions): number;
  stallConnections(options?: StallOptions): number;
  unstallConnections(filter?: ConnectionFilter): number;
  sendMalformed(kind: MalformedKind, filter?: ConnectionFilter): number;
  serverShutdown(options?: ShutdownOptions): number;
  refuseConnections(options?: RefuseOptions): Promise<void>;
  acceptConnections(): Promise<void>;
  injectRestFault(fault: RestFaultSpec): void;
  clearRestFaults(): void;
  resetRequestWeight(): void;
  on<K extends keyof StreamServerEvents>(event: K, listener: StreamServerEvents[K]): void;
  close(): Promise<void>;
}

export type { CloseReason, ConnectionFilter, ConnectionInfo };

export class ClockModeError extends Error {
  override readonly name = 'ClockModeError';
}

/** Starts the simulated exchange and resolves once it listens. */
export async function startSimExchange(options: SimExchangeOptions = {}): Promise<SimExchange> {
  const log = (options.logger ?? silentLogger).child({ component: 'sim-exchange' });
  const seed = options.seed ?? 'visualgo';
  const wallNowMs = options.wallNowMs ?? Date.now;
  const speed = options.speed ?? 1;
  if (speed !== 'max' && !(speed > 0)) throw new RangeError(`speed must be positive or 'max', got ${speed}`);
  let metrics: SimMetrics | null = null;
  const market = await chooseMarket(options, (count) => metrics?.tradesGenerated(count));
  const { universe, symbols, startMs, endMs, replay } = market;
  const clock: SimClock =
    options.clock === 'manual'
      ? new ManualClock(startMs, endMs)
      : speed === 'max'
        ? new ManualClock(startMs, endMs, 'paced')
        : new ScaledClock(startMs, speed, undefined, endMs);
  const registry = options.metrics ?? createMetrics('sim-exchange', false);
  metrics = new SimMetrics(registry, { marketNowMs: () => clock.nowMs() });
  const silentStreams = new Set<string>();
  const noteSilentStreams = (names: ReadonlySet<string>): void => {
    for (const name of names) {
      if (silentStreams.has(name) || silentStreams.size >= 1_000) continue;
      const id = parseStreamName(name);
      if (id && universe.get(id.symbol)?.serves(id)) continue;
      silentStreams.add(name);
      log.info(
        { stream: name },
        replay ? 'no replay data for this stream; it stays silent' : 'stream not simulated; it stays silent',
      );
    }
  };
  const feed = new MarketFeed((symbol) => universe.get(symbol) ?? null, startMs);
  const streams = new StreamServer({
    pingIntervalMs: options.pingIntervalMs ?? 20_000,
    pongTimeoutMs: options.pongTimeoutMs ?? 60_000,
    maxConnectionMs: options.maxConnectionMs ?? DAY_MS,
    maxStreamsPerConnection: options.maxStreamsPerConnection ?? 1024,
    maxMessagesPerSecond: options.maxMessagesPerSecond ?? 5,
    maxBufferedBytes: options.maxBufferedBytes ?? 64 * 1024 * 1024,
    maxPayloadBytes: 1024 * 1024,
    marketNowMs: () => clock.nowMs(),
    wallNowMs,
    logger: log,
    onInterestChanged: (set) => {
      feed.setInterest(set);
      noteSilentStreams(set);
    },
    metrics,
  });
  const weights = new RequestWeight({
    limitPerMinute: options.restWeightLimit ?? 6000,
    banAfterRejections: options.restBanAfterRejections ?? 5,
    banMs: options.restBanMs ?? 120_000,
    wallNowMs,
  });
  const restFaults = new RestFaults(wallNowMs);
  const rest = new RestApi({
    universe,
    marketNowMs: () => clock.nowMs(),
    weights,
    faults: restFaults,
    logger: log,
    metrics,
  });
  const truth = new GroundTruth(universe, () => clock.nowMs());

  let finished = false;
  const pump = (): void => {
    const now = clock.nowMs();
    const events = feed.advance(now);
    if (events.length > 0) streams.broadcast(events);
    if (replay && !finished && now >= endMs) {
      finished = true;
      log.info({ endMs }, 'replay finished: market time reached the end of the data');
    }
  };

  let refusing: RefuseMode | null = null;
  let refuseTimer: NodeJS.Timeout | null = null;
  let control: ControlApi | null = null;
  const server: Server = createServer((req, res) => {
    // Every handler below parses the target as a URL; refuse ones that cannot be parsed here.
    if (!parseRequestTarget(req.url)) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"code":-1100,"msg":"Illegal characters found in a parameter."}');
      return;
    }
    const url = req.url ?? '';
    if (url.startsWith('/sim/') || url === '/sim' || url.startsWith('/sim?')) {
      if (control) control.handle(req, res);
      else
        sendJson(
          res,
          404,
          { error: 'the control API is off; start the exchange with SIM_CONTROL_API=true to use it' },
          {},
        );
      return;
    }
    // Read-only, so open to any peer; handled before REST so injected REST faults never hit it.
    if (url === '/metrics' || url.startsWith('/metrics?')) {
      serveMetrics(registry, req, res, log);
      return;
    }
    rest.handle(req, res);
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    if (!parseRequestTarget(req.url)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    if (refusing === 'reset') {
      metrics.fault('refuse');
      socket.destroy();
      return;
    }
    if (refusing === 'http-503') {
      metrics.fault('refuse');
      rejectUpgrade(socket, 503, { code: -1, msg: 'Service unavailable.' });
      return;
    }
    streams.handleUpgrade(req, socket, head);
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  const host = options.host ?? '127.0.0.1';
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  try {
    await listen(options.port ?? 0);
  } catch (err) {
    rest.close();
    await streams.close();
    market.release();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  const pumpTimer = clock.kind === 'scaled' ? setInterval(pump, options.pumpIntervalMs ?? 20) : null;
  const paced =
    clock instanceof ManualClock && clock.kind === 'paced'
      ? new PacedPump({
          clock,
          pump,
          takers: () => streams.activeCount(),
          backlogBytes: () => streams.maxBufferedBytes(),
        })
      : null;

  const accept = async (): Promise<void> => {
    if (refuseTimer) clearTimeout(refuseTimer);
    refuseTimer = null;
    const wasUnlistened = refusing === 'unlisten';
    refusing = null;
    if (wasUnlistened && !server.listening) await listen(port);
  };

  const handle: SimExchange = {
    host,
    port,
    httpUrl: `http://${urlHost}:${port}`,
    wsUrl: `ws://${urlHost}:${port}`,
    controlUrl: options.controlApi ? `http://${urlHost}:${port}/sim` : null,
    seed,
    startMs,
    originMs: market.originMs,
    symbols,
    truth,
    replay,
    metrics: registry,
    marketNowMs: () => clock.nowMs(),
    status: () => ({
      seed,
      market: replay ? 'replay' : 'model',
      marketTimeMs: clock.nowMs(),
      startMs,
      originMs: market.originMs,
      clock: clock.kind,
      speed: clock instanceof ScaledClock ? clock.speed : clock.kind === 'paced' ? 'max' : 0,
      paused: clock.paused,
      symbols,
      connections: streams.size,
      refusing,
      restFaults: restFaults.active(),
      replay: replay
        ? {
            paths: replay.paths,
            streams: replay.streams.filter((s) => universe.has(s.slice(0, s.indexOf('@')).toUpperCase())),
            firstMs: replay.firstMs,
            endMs: replay.endMs,
            finished: clock.nowMs() >= endMs,
          }
        : null,
    }),
    advance(ms) {
      if (!(clock instanceof ManualClock) || clock.kind !== 'manual') {
        throw new ClockModeError('advance() needs the manual clock');
      }
      // Large jumps are emitted one block at a time so memory stays bounded.
      let left = ms;
      while (left > 0 && clock.nowMs() < endMs) {
        const step = Math.min(left, BLOCK_MS);
        clock.advance(step);
        pump();
        left -= step;
      }
    },
    pauseMarket: () => clock.pause(),
    resumeMarket: () => clock.resume(),
    jumpClock(ms) {
      if (clock instanceof ScaledClock) {
        clock.jump(ms);
        pump();
      } else if (clock.kind === 'manual') {
        handle.advance(ms);
      } else {
        throw new ClockModeError('jumpClock() needs the scaled or manual clock');
      }
      metrics.fault('clock-jump');
    },
    setSpeed(newSpeed) {
      if (!(clock instanceof ScaledClock)) throw new ClockModeError('setSpeed() needs the scaled clock');
      clock.setSpeed(newSpeed);
    },
    connections: (filter) => streams.list(filter),
    waitForConnections(count, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = (): void => {
          const list = streams.list();
          if (list.length >= count) resolve(list);
          else if (Date.now() - started > timeoutMs)
            reject(new Error(`expected ${count} connections, have ${list.length}`));
          else setTimeout(check, 5);
        };
        check();
      });
    },
    dropConnections(o = {}) {
      const closeFrame = o.closeFrame ?? true;
      const n = streams.drop(o, closeFrame, o.code, o.reason);
      metrics.fault(closeFrame ? 'drop' : 'cut', n);
      return n;
    },
    stallConnections(o = {}) {
      const n = streams.stall(o, o.durationMs);
      metrics.fault('stall', n);
      return n;
    },
    unstallConnections: (filter = {}) => streams.unstall(filter),
    sendMalformed(kind, filter = {}) {
      const n = streams.sendFrame(filter, (c) => malformedFrame(kind, c, clock.nowMs()));
      metrics.fault('malformed', n);
      return n;
    },
    serverShutdown(o = {}) {
      const n = streams.serverShutdown(o, o.closeAfterMs === undefined ? 1_000 : o.closeAfterMs);
      metrics.fault('server-shutdown', n);
      return n;
    },
    async refuseConnections(o = {}) {
      await accept();
      refusing = o.mode ?? 'http-503';
      // Stop listening without waiting for open connections: new ones get ECONNREFUSED.
      if (refusing === 'unlisten') {
        metrics.fault('unlisten');
        server.close();
      }
      if (o.durationMs !== undefined) {
        refuseTimer = setTimeout(() => {
          accept().catch((err: unknown) => log.error({ err }, 'could not listen again'));
        }, o.durationMs);
      }
    },
    acceptConnections: accept,
    injectRestFault: (fault) => restFaults.add(fault),
    clearRestFaults: () => restFaults.clear(),
    resetRequestWeight: () => weights.reset(),
    on: (event, listener) => streams.on(event, listener),
    async close() {
      if (pumpTimer) clearInterval(pumpTimer);
      paced?.stop();
      if (refuseTimer) clearTimeout(refuseTimer);
      rest.close();
      await streams.close();
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      market.release();
    },
  };
  if (options.controlApi) control = new ControlApi(handle, log, allowedHostOf(host));
  log.info(
    {
      host,
      port,
      market: replay ? 'replay' : 'model',
      seed: replay ? undefined : seed,
      startMs,
      originMs: market.originMs,
      endMs: replay ? endMs : undefined,
      clock: clock.kind,
      symbols,
    },
    'simulated exchange listening',
  );
  return handle;
}

function serveMetrics(registry: Registry, req: IncomingMessage, res: ServerResponse, log: SimLogger): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendJson(res, 405, { code: -1, msg: `Method ${req.method ?? ''} not allowed.` }, { Allow: 'GET, HEAD' });
    return;
  }
  registry
    .metrics()
    .then((text) => {
      res.writeHead(200, { 'Content-Type': registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : text);
    })
    .catch((err: unknown) => {
      log.error({ err }, 'could not collect metrics');
      if (!res.headersSent) sendJson(res, 500, { code: -1, msg: 'Metrics collection failed.' }, {});
    });
}
