import type { DashboardView } from '../app/dashboard-controller.js';
import type { SocketStatus } from '../feed/reconnecting-socket.js';
import { formatDuration } from './format.js';
import { useTicker } from './use-view.js';

const LABEL: Record<SocketStatus['state'], string> = {
  connecting: 'Connecting',
  live: 'Live',
  stale: 'Stale',
  reconnecting: 'Reconnecting',
  stopped: 'Stopped',
};

/**
 * The state a trader must be able to trust: live, reconnecting (with the next attempt), or stale
 * (connected but silent), the lag from exchange time to the screen, and the backend's own links.
 */
export function ConnectionStatus({ view }: { readonly view: DashboardView }) {
  const { algo } = view;
  const now = useTicker(1000, algo.state !== 'live' || view.candleLagMs !== null);
  const retryIn = algo.retryAtMs !== null ? Math.max(0, algo.retryAtMs - now) : null;
  const silentFor = algo.lastMessageAtMs !== null ? now - algo.lastMessageAtMs : null;
  let detail = '';
  if (algo.state === 'reconnecting') {
    detail = `attempt ${algo.attempt}${retryIn !== null ? `, next in ${formatDuration(retryIn)}` : ''}`;
  } else if (algo.state === 'stale') {
    detail = `no update for ${formatDuration(silentFor)}`;
  }
  const backend = view.health.feed?.state === 'disconnected' ? 'trading-algo lost data-ingest' : null;
  const upstream = view.health.upstream?.state === 'disconnected' ? 'exchange feed down' : null;
  return (
    <div class="status" role="status" aria-live="polite">
      <span class={`badge state-${algo.state}`} data-testid="connection-state" data-state={algo.state}>
        <span class="dot" aria-hidden="true" />
        {LABEL[algo.state]}
      </span>
      {detail && <span class="status-detail">{detail}</span>}
      {(backend || upstream) && (
        <span class="badge state-warning" data-testid="backend-state">
          {[backend, upstream].filter(Boolean).join(' · ')}
        </span>
      )}
      <span
        class="lag"
        title="Exchange event time to this screen (median of recent): closed candles / trades"
      >
        lag <Lag ms={view.candleLagMs} testId="candle-lag" /> /{' '}
        <Lag ms={view.tradeLagMs} testId="trade-lag" />
      </span>
    </div>
  );
}

/** Beyond a minute either way the exchange clock differs from this one (a fast simulation, skew). */
const CLOCK_OFFSET_MS = 60_000;

function Lag({ ms, testId }: { readonly ms: number | null; readonly testId: string }) {
  if (ms !== null && Math.abs(ms) > CLOCK_OFFSET_MS) {
    return (
      <strong
        data-testid={testId}
        data-value={String(ms)}
        title={`exchange clock differs from this one by ${formatDuration(ms)}`}
      >
        clock offset
      </strong>
    );
  }
  return (
    <strong data-testid={testId} data-value={ms === null ? '' : String(ms)}>
      {formatDuration(ms)}
    </strong>
  );
}
