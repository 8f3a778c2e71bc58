import { Counter, Gauge, type Registry } from 'prom-client';
import { REST_FAULT_MODES, type RestFaultMode } from './faults.js';
import type { RestMetrics, RestPath } from './rest-server.js';
import { METHOD_NAMES, type MethodName } from './ws-methods.js';
import { CLOSE_REASONS, type CloseReason, type MessageKind, type StreamServerMetrics } from './ws-server.js';

const MESSAGE_KINDS: readonly MessageKind[] = ['kline', 'trade', 'aggTrade', 'other'];

/** Injected faults, counted once per connection, upgrade or REST request they hit. */
export type FaultKind =
  | 'drop'
  | 'cut'
  | 'stall'
  | 'malformed'
  | 'server-shutdown'
  | 'refuse'
  | 'unlisten'
  | 'clock-jump'
  | `rest-${RestFaultMode}`;
const FAULT_KINDS: readonly FaultKind[] = [
  'drop',
  'cut',
  'stall',
  'malformed',
  'server-shutdown',
  'refuse',
  'unlisten',
  'clock-jump',
  ...REST_FAULT_MODES.map((m): FaultKind => `rest-${m}`),
];

type MethodLabel = MethodName | 'unknown';
const METHOD_LABELS: readonly MethodLabel[] = [...METHOD_NAMES, 'unknown'];

interface Incrementer {
  inc(value?: number): void;
}

/** Labelled children created up front, so hot paths do no label work and every series shows from 0. */
function children<L extends string>(
  values: readonly L[],
  child: (value: L) => Incrementer,
): Record<L, Incrementer> {
  const out: Partial<Record<L, Incrementer>> = {};
  for (const v of values) {
    const c = child(v);
    c.inc(0);
    out[v] = c;
  }
  return out as Record<L, Incrementer>;
}

export interface SimMetricsProbes {
  /** Read at scrape time for `sim_market_time_ms`. */
  readonly marketNowMs: () => number;
}

/**
 * The simulator's Prometheus metrics (`sim_*`) in one registry, with the narrow hooks the stream
 * server, the REST API and the market model call. One registry holds one simulator's metrics.
 */
export class SimMetrics implements StreamServerMetrics, RestMetrics {
  private readonly open: Gauge;
  private readonly opened: Counter;
  private readonly closed: Record<CloseReason, Incrementer>;
  private readonly messages: Record<MessageKind, Incrementer>;
  private readonly methods: Record<'ok' | 'error', Record<MethodLabel, Incrementer>>;
  private readonly rest: Counter<'path' | 'status'>;
  private readonly rejected: Record<'429' | '418', Incrementer>;
  private readonly faults: Record<FaultKind, Incrementer>;
  private readonly trades: Counter;

  constructor(registry: Registry, probes: SimMetricsProbes) {
    const registers = [registry];
    this.open = new Gauge({ name: 'sim_ws_connections', help: 'Open stream connections.', registers });
    this.opened = new Counter({
      name: 'sim_ws_connections_opened_total',
      help: 'Stream connections accepted.',
      registers,
    });
    const closed = new Counter({
      name: 'sim_ws_connections_closed_total',
      help: 'Stream connections closed, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.closed = children(CLOSE_REASONS, (r) => closed.labels(r));
    const messages = new Counter({
      name: 'sim_ws_messages_sent_total',
      help: 'Messages sent to stream clients, by kind (other: method replies, serverShutdown, malformed frames).',
      labelNames: ['kind'],
      registers,
    });
    this.messages = children(MESSAGE_KINDS, (k) => messages.labels(k));
    const methods = new Counter({
      name: 'sim_ws_method_requests_total',
      help: 'Method requests from stream clients, by method (unknown when unreadable) and outcome.',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.methods = {
      ok: children(METHOD_LABELS, (m) => methods.labels(m, 'ok')),
      error: children(METHOD_LABELS, (m) => methods.labels(m, 'error')),
    };
    this.rest = new Counter({
      name: 'sim_rest_requests_total',
      help: 'REST requests answered, by path (other for unknown paths) and HTTP status.',
      labelNames: ['path', 'status'],
      registers,
    });
    const rejected = new Counter({
      name: 'sim_rest_weight_rejections_total',
      help: 'REST requests refused by the request-weight limit: 429, or 418 once the IP is banned.',
      labelNames: ['status'],
      registers,
    });
    this.rejected = children(['429', '418'], (s) => rejected.labels(s));
    const faults = new Counter({
      name: 'sim_faults_injected_total',
      help: 'Injected faults, by kind: one per connection, refused upgrade or REST request affected.',
      labelNames: ['kind'],
      registers,
    });
    this.faults = children(FAULT_KINDS, (k) => faults.labels(k));
    // Read at scrape time: market time moves on its own with the scaled clock.
    new Gauge({
      name: 'sim_market_time_ms',
      help: 'Market time of the simulator, epoch milliseconds.',
      registers,
      collect() {
        this.set(probes.marketNowMs());
      },
    });
    this.trades = new Counter({
      name: 'sim_trades_generated_total',
      help: 'Trades the market model generated; a minute regenerated after leaving the cache counts again.',
      registers,
    });
  }

  connectionOpened(open: number): void {
    this.opened.inc();
    this.open.set(open);
  }

  connectionClosed(reason: CloseReason, open: number): void {
    this.closed[reason].inc();
    this.open.set(open);
  }

  messagesSent(kind: MessageKind, count: number): void {
    if (count > 0) this.messages[kind].inc(count);
  }

  methodRequest(method: MethodName | null, outcome: 'ok' | 'error'): void {
    this.methods[outcome][method ?? 'unknown'].inc();
  }

  restRequest(path: RestPath | 'other', status: number): void {
    this.rest.labels(path, String(status)).inc();
  }

  weightRejected(status: 429 | 418): void {
    this.rejected[status === 429 ? '429' : '418'].inc();
  }

  restFaultApplied(mode: RestFaultMode): void {
    this.fault(`rest-${mode}`);
  }

  fault(kind: FaultKind, count = 1): void {
    if (count > 0) this.faults[kind].inc(count);
  }

  tradesGenerated(count: number): void {
    this.trades.inc(count);
  }
}
