import { join } from 'node:path';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from '@visualgo/platform';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MarketHubView } from '../hub/market-hub.js';
import type { BoundedWriter } from './bounded-writer.js';
import {
  createKlineHandlers,
  createMarketDataHandlers,
  KlineWire,
  MarketDataWire,
} from './market-data-service.js';
import { findProtoDir } from './proto-files.js';

export interface GrpcEdgeOptions {
  readonly hub: MarketHubView;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly host: string;
  readonly port: number;
  /** Live messages queued per streaming subscriber before it is cut off. */
  readonly maxQueued?: number;
  /** Open streaming calls at most, over all clients. */
  readonly maxStreams?: number;
  readonly protoDir?: string;
}

export interface GrpcEdge {
  readonly port: number;
  setServing(serving: boolean): void;
  /** Ends every stream with UNAVAILABLE (clients reconnect elsewhere), then shuts down. */
  close(timeoutMs?: number): Promise<void>;
}

const SERVICES = ['visualgo.v1.MarketData', 'KlineService'];

export async function startGrpcEdge(options: GrpcEdgeOptions): Promise<GrpcEdge> {
  const logger = options.logger.child({ component: 'grpc' });
  const active = new Set<BoundedWriter<Buffer>>();
  const slow = new Counter({
    name: 'ingest_grpc_slow_consumers_total',
    help: 'gRPC streams ended with RESOURCE_EXHAUSTED because the client could not keep up',
    labelNames: ['method'],
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
  const deps = {
    hub: options.hub,
    logger,
    maxQueued: options.maxQueued ?? 10_000,
    maxStreams: options.maxStreams ?? 1_000,
    active,
    onSlowConsumer: (method: string) => slow.inc({ method }),
  };
  const server = new Server({ 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
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

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  logger.info({ port }, 'gRPC server listening');

  return {
    port,
    setServing(serving) {
      for (const s of ['', ...SERVICES]) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
    },
    close(timeoutMs = 3_000) {
      for (const s of ['', ...SERVICES]) health.setStatus(s, 'NOT_SERVING');
      for (const writer of [...active]) writer.fail(status.UNAVAILABLE, 'server shutting down');
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
