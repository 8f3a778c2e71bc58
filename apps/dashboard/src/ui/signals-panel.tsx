import type { DashboardView } from '../app/dashboard-controller.js';
import { formatDateTime, type TimeZoneMode } from '../chart/time-format.js';
import { formatNumber, formatSignedPct } from './format.js';

/** Recent rubberband signals and what the price did in the N candles after each one. */
export function SignalsPanel({ view, tz }: { readonly view: DashboardView; readonly tz: TimeZoneMode }) {
  const horizon = view.signals[0]?.horizon;
  return (
    <section class="panel" aria-labelledby="signals-title">
      <h2 id="signals-title">
        Recent signals {horizon !== undefined && <span class="muted">(price after {horizon} candles)</span>}
      </h2>
      {view.signals.length === 0 ? (
        <p class="muted">No signal among the {view.candleCount} candles held.</p>
      ) : (
        <table class="signals" data-testid="signals">
          <thead>
            <tr>
              <th scope="col">Candle</th>
              <th scope="col">Side</th>
              <th scope="col" title="(close − EMA) / ATR">
                s
              </th>
              <th scope="col">After</th>
              <th scope="col" title="Largest move for and against the signal within those candles">
                Best / worst
              </th>
            </tr>
          </thead>
          <tbody>
            {view.signals.map((s) => (
              <tr key={s.openTimeMs} data-open-time={String(s.openTimeMs)}>
                <td>{formatDateTime(s.openTimeMs, tz).slice(5, 16)}</td>
                <td title={`close ${s.close}`}>
                  <span class={`side side-${s.side}`}>{s.side === 'overbought' ? '▼ OB' : '▲ OS'}</span>
                </td>
                <td>{formatNumber(s.stretch, 2)}</td>
                <td class={s.reverted === null ? '' : s.reverted ? 'good' : 'bad'}>
                  {s.candlesAfter === 0 ? 'pending' : formatSignedPct(s.changePct)}
                  {s.candlesAfter > 0 && s.candlesAfter < s.horizon && (
                    <span class="muted">
                      {' '}
                      ({s.candlesAfter}/{s.horizon})
                    </span>
                  )}
                </td>
                <td>
                  {formatSignedPct(s.bestPct)} / {formatSignedPct(s.worstPct)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
