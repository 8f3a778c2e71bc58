import type { DashboardView } from '../app/dashboard-controller.js';
import { formatDateTime, type TimeZoneMode } from '../chart/time-format.js';

/** Gaps the backend reported on its `status` channel, and its links' state. */
export function FeedPanel({ view, tz }: { readonly view: DashboardView; readonly tz: TimeZoneMode }) {
  const { health } = view;
  return (
    <section class="panel" aria-labelledby="feed-title">
      <h2 id="feed-title">Feed</h2>
      <ul class="feed-links">
        <li>
          source:{' '}
          <strong data-testid="exchange">
            {view.meta ? (view.simulated ? 'SIMULATED (binance-sim)' : 'Binance (live)') : '—'}
          </strong>
        </li>
        <li>
          trading-algo ⇄ data-ingest: <strong>{health.feed?.state ?? 'unknown'}</strong>
          {health.feed?.detail && <span class="muted"> ({health.feed.detail})</span>}
        </li>
        <li>
          data-ingest ⇄ exchange: <strong>{health.upstream?.state ?? 'unknown'}</strong>
          {health.upstream?.detail && <span class="muted"> ({health.upstream.detail})</span>}
        </li>
        <li>
          candles held: <strong data-testid="candle-count">{view.candleCount}</strong>
          {view.badFrames > 0 && <span class="muted"> · {view.badFrames} malformed frames dropped</span>}
        </li>
      </ul>
      <h3>Reported gaps</h3>
      {health.gaps.length === 0 ? (
        <p class="muted">None reported since the page opened.</p>
      ) : (
        <ul class="gaps" data-testid="gaps">
          {health.gaps.map((g) => (
            <li key={`${g.stream}-${g.fromOpenTimeMs}-${g.toOpenTimeMs}`} class={`gap gap-${g.state}`}>
              <strong>{g.state.replace('gap-', '')}</strong>{' '}
              {g.fromOpenTimeMs !== null ? formatDateTime(g.fromOpenTimeMs, tz) : '?'} →{' '}
              {g.toOpenTimeMs !== null ? formatDateTime(g.toOpenTimeMs, tz) : '?'}
              <span class="muted"> ({g.scope})</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
