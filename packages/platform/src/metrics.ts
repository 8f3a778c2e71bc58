import {
  Counter,
  type CounterConfiguration,
  collectDefaultMetrics,
  type LabelValues,
  Registry,
} from 'prom-client';

/** A Prometheus registry for one service, with Node's process metrics and a `service` label. */
export function createMetrics(service: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (withDefaults) collectDefaultMetrics({ register: registry });
  return registry;
}

/** One series of a {@link TalliedCounter}: add to `value`; keep it rather than asking again. */
export interface TallySeries {
  value: number;
}

/**
 * A labelled Prometheus counter for hot paths: each series is a plain number the caller keeps and
 * adds to, handed to the counter when the registry is collected. Counting costs an addition
 * instead of prom-client's per-call label check and hashing. A series is exported from its first
 * count on, as with `Counter.inc`.
 */
export class TalliedCounter<T extends string> {
  private readonly tallies: { readonly labels: LabelValues<T>; readonly series: TallySeries }[] = [];

  constructor(config: Omit<CounterConfiguration<T>, 'collect'>) {
    const tallies = this.tallies;
    new Counter<T>({
      ...config,
      collect() {
        this.reset();
        for (const t of tallies) if (t.series.value > 0) this.inc(t.labels, t.series.value);
      },
    });
  }

  /** A new series for `labels`; call once per label set and keep it. */
  series(labels: LabelValues<T>): TallySeries {
    const series = { value: 0 };
    this.tallies.push({ labels, series });
    return series;
  }
}
