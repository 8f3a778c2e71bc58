import { type ChildProcess, fork } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import type { Logger } from 'pino';
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';
import { rejectUpgrade, WsAdmission, type WsAdmissionOptions } from './ws-admission.js';
import type { WsUpgradeDecision } from './ws-fanout.js';
import { FeedEncoder } from './ws-worker-feed.js';

/** Environment variable a forked worker process finds its role in (see {@link isWsWorkerProcess}). */
export const WS_WORKER_ENV = 'VISUALGO_WS_WORKER';

/** True in a process forked by a {@link WsWorkerPool}. */
export function isWsWorkerProcess(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[WS_WORKER_ENV] === '1';
}

/** Messages from the pool to a worker, over the IPC channel (the feed has its own pipe). */
export type ToWorker =
  | { readonly type: 'init'; readonly init: unknown }
  | {
      readonly type: 'conn';
      readonly id: number;
      readonly state: unknown;
      readonly address: string;
      readonly method: string;
      readonly url: string;
      readonly headers: IncomingMessage['headers'];
      readonly head: string;
    }
  | { readonly type: 'metrics'; readonly req: number }
  | { readonly type: 'behind' }
  | { readonly type: 'close'; readonly code: number; readonly reason: string; readonly timeoutMs: number };

/** Messages from a worker to the pool. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'app'; readonly body: unknown }
  | { readonly type: 'closed'; readonly id: number }
  | {
      readonly type: 'metrics';
      readonly req: number;
      readonly metrics: MetricObjectWithValues<MetricValue<string>>[];
    };

/** The feed's pipe is the worker's file descriptor 4 (0-2 stdio, 3 the IPC channel). */
export const WS_WORKER_FEED_FD = 4;

export interface WsWorkerPoolOptions {
  /** Worker processes; each serves a share of the clients (the one with fewest gets the next). */
  readonly workers: number;
  /** The module a worker runs; it calls `runWsWorker` when {@link isWsWorkerProcess}. */
  readonly entry: string;
  /** Node flags for the workers; default this process's own (`process.execArgv`). */
  readonly execArgv?: readonly string[];
  /** Sent to every worker as it starts (JSON): what it serves and how. */
  readonly init: unknown;
  readonly logger: Logger;
  /** The checks every upgrade passes here, before its socket is handed to a worker. */
  readonly admission: WsAdmissionOptions;
  /**
   * Feed bytes a worker may not yet have read before it is deemed behind: its clients are then
   * closed with 1013 (reconnect) and the worker restarted, as the in-process edge does when it
   * falls behind the bus. Default 64 MiB.
   */
  readonly maxFeedBacklogBytes?: number;
  /** Wait before restarting a worker that exited; default 500 ms. */
  readonly restartDelayMs?: number;
  /**
   * A worker's own request to the front (`post` in `runWsWorker`), e.g. for a snapshot it does
   * not hold; answer with {@link WsWorkerPool.sendTo} so the answer is in order with the feed.
   */
  readonly onMessage?: (worker: number, body: unknown) => void;
  /** For `<prefix>_workers` and `<prefix>_worker_restarts_total`; unset: not exported. */
  readonly metrics?: { readonly registry: Registry; readonly prefix: string };
}

interface WorkerSlot {
  readonly index: number;
  readonly child: ChildProcess;
  readonly feed: Writable;
  ready: boolean;
  /** Stopped being fed (behind, exiting): gets no more clients either. */
  cut: boolean;
  clients: number;
  readonly exited: Promise<void>;
}

interface Placed {
  readonly address: string;
  readonly worker: WorkerSlot;
}

/**
 * The front of a WebSocket edge whose clients are served by worker processes, so the fan-out's
 * work (framing, queueing, one write per client per tick) spreads over the machine's cores. The
 * front keeps what needs the whole picture: the admission checks (capacity, per-address caps over
 * all workers, origin, token, the application's decision), which worker gets each client, and the
 * feed, encoded once per tick and written as one Buffer to each worker's pipe. A worker completes
 * the handshake on the socket handed to it and runs the endpoint (subscriptions, methods,
 * heartbeat, slow-consumer policy) for its clients.
 *
 * A worker that exits (crash, kill) takes its clients' connections with it (they see the TCP
 * connection close and reconnect); it is restarted and the front goes on with the others.
 */
export class WsWorkerPool {
  private readonly admission: WsAdmission;
  private readonly slots: (WorkerSlot | null)[];
  private readonly placed = new Map<number, Placed>();
  private readonly encoder = new FeedEncoder();
  private readonly maxBacklog: number;
  private readonly pendingMetrics = new Map<number, (m: FromWorker & { type: 'metrics' }) => void>();
  private readonly restartsTotal: Counter | null = null;
  private nextId = 1;
  private nextReq = 1;
  private flushScheduled = false;
  private closing = false;
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.encoder.pending === 0) return;
    const batch = this.encoder.take();
    for (const slot of this.slots) {
      if (!slot || slot.cut) continue;
      if (slot.feed.writableLength > this.maxBacklog) {
        this.cutBehind(slot);
        continue;
      }
      slot.feed.write(batch);
    }
  };

  constructor(private readonly options: WsWorkerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new RangeError(`workers must be a positive integer, got ${options.workers}`);
    }
    this.admission = new WsAdmission(options.admission);
    this.maxBacklog = options.maxFeedBacklogBytes ?? 64 * 1024 * 1024;
    this.slots = Array.from({ length: options.workers }, () => null);
    if (options.metrics) {
      const { registry, prefix } = options.metrics;
      const slots = this.slots;
      new Gauge({
        name: `${prefix}_workers`,
        help: 'WebSocket worker processes running and serving clients.',
        registers: [registry],
        collect() {
          this.set(slots.filter((s) => s?.ready && !s.cut).length);
        },
      });
      this.restartsTotal = new Counter({
        name: `${prefix}_worker_restarts_total`,
        help: 'WebSocket worker processes restarted after they exited or fell behind the feed.',
        registers: [registry],
      });
    }
    for (let i = 0; i < options.workers; i++) this.start(i);
  }

  /** Clients connected over all workers. */
  get size(): number {
    return this.placed.size;
  }

  /** Workers started and not cut off (serving clients). */
  get readyWorkers(): number {
    return this.slots.filter((s) => s?.ready && !s.cut).length;
  }

  /** Resolves once every worker is ready (or rejects after `timeoutMs`). */
  async whenReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.readyWorkers < this.slots.length) {
      if (Date.now() > deadline) {
        throw new Error(
          `WebSocket workers not ready after ${timeoutMs} ms (${this.readyWorkers}/${this.slots.length})`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Runs the admission checks and hands an admitted request's socket to the worker with the
   * fewest clients, with the state `decide` gave it (sent as JSON). 503 when no worker is up.
   */
  handleUpgrade<S>(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    decide: () => WsUpgradeDecision<S>,
  ): void {
    const admitted = this.admission.admit(req, socket, this.placed.size, decide);
    if (!admitted) return;
    const worker = this.pick();
    if (!worker) {
      this.options.admission.metrics?.upgradeRejected?.('capacity');
      rejectUpgrade(socket, 503, 'no WebSocket worker available, retry shortly\n');
      return;
    }
    const id = this.nextId++;
    this.placed.set(id, { address: admitted.address, worker });
    this.admission.acquire(admitted.address);
    worker.clients++;
    const message: ToWorker = {
      type: 'conn',
      id,
      state: admitted.state,
      address: admitted.address,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      head: head.toString('base64'),
    };
    // Node tracks a server's sockets sent to a child so that `server.close()` waits for them, but
    // a server whose children have all exited then never closes (no child left to answer). This
    // pool tracks its clients itself: the socket is sent as a plain connection, and once sent,
    // the husk left here (its handle gone to the worker) is destroyed, which counts it out of the
    // server's connections.
    (socket as Socket & { server: unknown }).server = null;
    worker.child.send(message, socket as Socket, (err) => {
      if (err) {
        this.options.logger.warn({ err: err.message, worker: worker.index }, 'websocket handover failed');
        this.release(id);
      }
      socket.destroy();
    });
  }

  /** Queues one message for every worker; a tick's messages go to each worker's pipe as one write. */
  publish(key: string, payload: string | Buffer): void {
    this.encoder.add(key, payload);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Sends one record to one worker only, after everything published so far (so it reaches the
   * worker in order with the feed). False when that worker is not being fed.
   */
  sendTo(worker: number, key: string, payload: string | Buffer): boolean {
    const slot = this.slots[worker];
    if (!slot || slot.cut) return false;
    this.flush();
    const one = new FeedEncoder();
    one.add(key, payload);
    slot.feed.write(one.take());
    return true;
  }

  /**
   * This process's metrics with every worker's added (counters and gauges summed by series). A
   * worker that does not answer within `timeoutMs` is left out of this scrape.
   */
  async metrics(own: Registry, timeoutMs = 1_000): Promise<string> {
    const answers = await Promise.all(
      this.slots.map((slot) => (slot?.ready && !slot.cut ? this.askMetrics(slot, timeoutMs) : null)),
    );
    const all = [await own.getMetricsAsJSON(), ...answers.filter((a) => a !== null)];
    return AggregatorRegistry.aggregate(all as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  /**
   * Refuses new upgrades, asks every worker to send its clients `code` and wait up to `timeoutMs`
   * for their close handshakes, then waits for the workers to exit (killed past the deadline).
   */
  async close(code = 1001, reason = 'server shutting down', timeoutMs = 2_000): Promise<void> {
    this.closing = true;
    this.admission.shutDown();
    const live = this.slots.filter((s): s is WorkerSlot => s !== null);
    for (const slot of live) {
      slot.feed.end();
      if (slot.child.connected)
        slot.child.send({ type: 'close', code, reason, timeoutMs } satisfies ToWorker);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(live.map((s) => s.exited)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs + 1_000);
      }),
    ]);
    clearTimeout(timer);
    for (const slot of live)
      if (slot.child.exitCode === null && slot.child.signalCode === null) slot.child.kill('SIGKILL');
    await Promise.all(live.map((s) => s.exited));
  }

  private pick(): WorkerSlot | null {
    let best: WorkerSlot | null = null;
    for (const slot of this.slots) {
      if (!slot?.ready || slot.cut || !slot.child.connected) continue;
      if (!best || slot.clients < best.clients) best = slot;
    }
    return best;
  }

  private release(id: number): void {
    const placed = this.placed.get(id);
    if (!placed) return;
    this.placed.delete(id);
    placed.worker.clients--;
    this.admission.release(placed.address);
  }

  private askMetrics(
    slot: WorkerSlot,
    timeoutMs: number,
  ): Promise<MetricObjectWithValues<MetricValue<string>>[] | null> {
    const req = this.nextReq++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingMetrics.delete(req);
        resolve(null);
      }, timeoutMs);
      this.pendingMetrics.set(req, (m) => {
        clearTimeout(timer);
        this.pendingMetrics.delete(req);
        resolve(m.metrics);
      });
      slot.child.send({ type: 'metrics', req } satisfies ToWorker, (err) => {
        if (err) {
          clearTimeout(timer);
          this.pendingMetrics.delete(req);
          resolve(null);
        }
      });
    });
  }

  /**
   * Closes every worker's clients with 1013 (reconnect) and restarts the workers: for when the
   * feed itself missed events (the front fell behind its source), so no client is served a hole.
   */
  restartAll(): void {
    for (const slot of this.slots) if (slot && !slot.cut) this.cutBehind(slot, false);
  }

  /** The worker has not read its feed for too long: its clients reconnect elsewhere, it restarts. */
  private cutBehind(slot: WorkerSlot, log = true): void {
    slot.cut = true;
    if (log) {
      this.options.logger.error(
        { worker: slot.index, clients: slot.clients, backlogBytes: slot.feed.writableLength },
        'websocket worker fell behind its feed, closing its clients',
      );
    }
    if (slot.child.connected) slot.child.send({ type: 'behind' } satisfies ToWorker);
    // What it was owed is dropped; a worker that does not go by itself is stopped.
    slot.feed.destroy();
    setTimeout(() => {
      if (slot.child.exitCode === null && slot.child.signalCode === null) slot.child.kill('SIGKILL');
    }, 5_000).unref();
  }

  private start(index: number): void {
    const child = fork(this.options.entry, [], {
      execArgv: [...(this.options.execArgv ?? process.execArgv)],
      env: { ...process.env, [WS_WORKER_ENV]: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
      serialization: 'json',
    });
    const feed = child.stdio[WS_WORKER_FEED_FD] as Writable | null;
    if (!feed) throw new Error('WebSocket worker started without its feed pipe');
    // A worker that died leaves a broken pipe; its exit is handled below.
    feed.on('error', () => {});
    let exited!: () => void;
    const slot: WorkerSlot = {
      index,
      child,
      feed,
      ready: false,
      cut: false,
      clients: 0,
      exited: new Promise<void>((resolve) => {
        exited = resolve;
      }),
    };
    this.slots[index] = slot;
    child.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          slot.ready = true;
          this.options.logger.info({ worker: index, pid: child.pid }, 'websocket worker ready');
          break;
        case 'closed':
          this.release(message.id);
          break;
        case 'app':
          this.options.onMessage?.(index, message.body);
          break;
        case 'metrics':
          this.pendingMetrics.get(message.req)?.(message);
          break;
      }
    });
    child.on('error', (err) => this.options.logger.error({ err, worker: index }, 'websocket worker error'));
    child.once('exit', (code, signal) => {
      slot.cut = true;
      feed.destroy();
      let lost = 0;
      for (const [id, placed] of this.placed) {
        if (placed.worker !== slot) continue;
        this.release(id);
        lost++;
      }
      exited();
      if (this.closing) return;
      this.options.logger.error(
        { worker: index, code, signal, clients: lost },
        'websocket worker exited; its clients were disconnected, restarting it',
      );
      this.restartsTotal?.inc();
      setTimeout(() => {
        if (!this.closing) this.start(index);
      }, this.options.restartDelayMs ?? 500).unref();
    });
    child.send({ type: 'init', init: this.options.init } satisfies ToWorker);
  }
}
