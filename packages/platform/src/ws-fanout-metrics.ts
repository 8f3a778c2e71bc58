import { Counter, Gauge, type Registry } from 'prom-client';
import type { WsFanoutMetrics } from './ws-fanout.js';

/**
 * Prometheus hooks for a {@link WsFanout}: `<prefix>_clients`, `<prefix>_connections_total`,
 * `<prefix>_slow_consumers_dropped_total`, `<prefix>_messages_out_total`, `<prefix>_bytes_out_total`,
 * `<prefix>_rate_limited_total`, `<prefix>_heartbeat_timeouts_total`,
 * `<prefix>_upgrades_rejected_total{reason}`.
 */
export function createWsFanoutMetrics(registry: Registry, prefix: string): WsFanoutMetrics {
  const registers = [registry];
  const clients = new Gauge({ name: `${prefix}_clients`, help: 'Connected WebSocket clients.', registers });
  const connections = new Counter({
    name: `${prefix}_connections_total`,
    help: 'WebSocket connections accepted.',
    registers,
  });
  const slow = new Counter({
    name: `${prefix}_slow_consumers_dropped_total`,
    help: 'WebSocket clients closed with 1008 because their send buffer was full.',
    registers,
  });
  const messages = new Counter({
    name: `${prefix}_messages_out_total`,
    help: 'WebSocket messages queued to clients.',
    registers,
  });
  const bytes = new Counter({
    name: `${prefix}_bytes_out_total`,
    help: 'WebSocket payload bytes queued to clients.',
    registers,
  });
  const rateLimited = new Counter({
    name: `${prefix}_rate_limited_total`,
    help: 'WebSocket clients closed for exceeding the inbound message rate.',
    registers,
  });
  const heartbeat = new Counter({
    name: `${prefix}_heartbeat_timeouts_total`,
    help: 'WebSocket clients terminated for not answering pings.',
    registers,
  });
  const rejected = new Counter({
    name: `${prefix}_upgrades_rejected_total`,
    help: 'WebSocket upgrade requests refused, by reason.',
    labelNames: ['reason'],
    registers,
  });
  return {
    clients: (n) => clients.set(n),
    connected: () => connections.inc(),
    slowConsumerDropped: () => slow.inc(),
    messagesOut: (n, b) => {
      messages.inc(n);
      bytes.inc(b);
    },
    rateLimited: () => rateLimited.inc(),
    heartbeatTimeout: () => heartbeat.inc(),
    upgradeRejected: (reason) => rejected.inc({ reason }),
  };
}
