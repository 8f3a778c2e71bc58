import { collectDefaultMetrics, Registry } from 'prom-client';

/** A Prometheus registry for one service, with Node's process metrics and a `service` label. */
export function createMetrics(service: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (withDefaults) collectDefaultMetrics({ register: registry });
  return registry;
}
