import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { MarketBus } from '@visualgo/bus';
import {
  type BearerAuth,
  clientAddress,
  type Logger,
  LogThrottle,
  PerAddressLimit,
} from '@visualgo/platform';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IngestView } from '../hub/ingest-view.js';
import { bearerInterceptor } from './bearer-interceptor.js';
import {
  createKlineHandlers,
  createMarketDataHandlers,
  KlineWire,
  MarketDataWire,
} from './market-data-service.js';
import { findProtoDir } from './proto-files.js';
import { MAX_REQUEST_BYTES } from './request-limits.js';
import type { StreamCall } from './stream-call.js';

export interface GrpcEdgeOptions {
  /** Where streaming calls take their events from. */
  readonly bus: MarketBus;
  /** Streams, history (GetCandles), readiness. */
  readonly view: IngestView;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly host: string;
  readonly port: number;
  /** Live messages queued per streaming subscriber before it is cut off. */
  readonly maxQueued?: number;
  /** Open streaming calls at most, over all clients. */
  readonly maxStreams?: number;
  /** Open streaming calls per client address; 0 or unset: no per-address limit. */
  readonly maxStreamsPerAddress?: number;
  /** Open connections (HTTP/2 sessions) per client address; 0 or unset: no per-address limit. */
  readonly maxConnectionsPerAddress?: number;
  /** Bearer token required in `authorization` metadata on every call but health checks. */
  readonly auth?: BearerAuth;
  readonly protoDir?: string;
}

export interface GrpcEdge {
  readonly port: number;
  /** Open streaming calls, over all clients. */
  readonly openStreams: number;
  setServing(serving: boolean): void;
  /** Ends every stream with UNAVAILABLE (clients reconnect elsewhere), then shuts down. */
  close(timeoutMs?: number): Promise<void>;
}

const SERVICES = ['visualgo.v1.MarketData', 'KlineService'];

export type GrpcRefusal = 'streams' | 'streams_per_address' | 'connections_per_address' | 'unauthenticated';

export async function startGrpcEdge(options: GrpcEdgeOptions): Promise<GrpcEdge> {
  const logger = options.logger.child({ component: 'grpc' });
  const active = new Set<StreamCall>();
  const slow = new Counter({
    name: 'ingest_grpc_slow_consumers_total',
    help: 'gRPC streams ended with RESOURCE_EXHAUSTED because the client could not keep up',
    labelNames: ['method'],
    registers: [options.metrics],
  });
  const refused = new Counter({
    name: 'ingest_grpc_refused_total',
    help: 'gRPC connections and calls refused: streams (GRPC_MAX_STREAMS), streams_per_address, connections_per_address, unauthenticated (no valid token)',
    labelNames: ['reason'],
    registers: [options.metrics],
  });
  new Gauge({
    name: 'ingest_grpc_streams',
    help: 'Open gRPC streaming calls',
    registers: [options.metrics],
    collect() {
      this.set(active.size);
    },
  });
  const throttle = new LogThrottle();
  const onRefused = (reason: GrpcRefusal, address?: string) => {
    refused.inc({ reason });
    const suppressed = throttle.take(reason);
    if (suppressed !== null) logger.warn({ reason, address, suppressed }, 'gRPC client refused');
  };
  const deps = {
    bus: options.bus,
    view: options.view,
    logger,
    maxQueued: options.maxQueued ?? 10_000,
    maxStreams: options.maxStreams ?? 1_000,
    streamsPerAddress: new PerAddressLimit(options.maxStreamsPerAddress ?? 0),
    onRefused: (reason: 'streams' | 'streams_per_address') => onRefused(reason),
    active,
    onSlowConsumer: (method: string) => slow.inc({ method }),
  };
  const auth = options.auth;
  const server = new Server({
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
    ...(auth?.enabled ? { interceptors: [bearerInterceptor(auth, () => onRefused('unauthenticated'))] } : {}),
  });
  server.addService(MarketDataWire, createMarketDataHandlers(deps));
  server.addService(KlineWire, createKlineHandlers(deps));

  const health = new HealthImplementation(
    Object.fromEntries(['', ...SERVICES].map((s) => [s, 'NOT_SERVING'])),
  );
  health.addToServer(server);
  const protoDir = options.protoDir ?? findProtoDir();
  // Reflection lists MarketData, KlineService and Health. (The reflection library names the
  // packageless seed service `.KlineService`; clients of it use proto/trade.proto directly.)
  const definitions = loadSync(
    [join(protoDir, 'visualgo/v1/market_data.proto'), join(protoDir, 'trade.proto'), healthProtoPath],
    {
      includeDirs: [protoDir],
    },
  );
  new ReflectionService(definitions).addToServer(server);

  // The listening socket is ours, not grpc-js's: every accepted connection is counted against
  // its address first and handed to grpc-js only when the address is under its cap.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const connections = new PerAddressLimit(options.maxConnectionsPerAddress ?? 0);
  const sockets = new Set<Socket>();
  const listener: NetServer = createServer((socket) => {
    const address = clientAddress(socket.remoteAddress);
    if (!connections.tryAcquire(address)) {
      onRefused('connections_per_address', address);
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      connections.release(address);
    });
    injector.injectConnection(socket);
  });
  const port = await new Promise<number>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port, options.host, () => {
      listener.off('error', reject);
      const bound = listener.address();
      resolve(typeof bound === 'object' && bound ? bound.port : options.port);
    });
  });
  logger.info({ port }, 'gRPC server listening');

  return {
    port,
    get openStreams() {
      return active.size;
    },
    setServing(serving) {
      for (const s of ['', ...SERVICES]) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
    },
    close(timeoutMs = 3_000) {
      for (const s of ['', ...SERVICES]) health.setStatus(s, 'NOT_SERVING');
      for (const call of [...active]) call.fail(status.UNAVAILABLE, 'server shutting down');
      listener.close();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          injector.destroy();
          for (const socket of sockets) socket.destroy();
          resolve();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          injector.destroy();
          for (const socket of sockets) socket.destroy();
          resolve();
        });
      });
    },
  };
}
