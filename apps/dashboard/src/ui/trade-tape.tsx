import type { DashboardView } from '../app/dashboard-controller.js';
import { formatClock, type TimeZoneMode } from '../chart/time-format.js';

const SHOWN = 40;

/** The live trade tape: newest first, aggressor side coloured and named, exchange trade time. */
export function TradeTape({ view, tz }: { readonly view: DashboardView; readonly tz: TimeZoneMode }) {
  const rows = view.tape.slice(0, SHOWN);
  return (
    <section class="panel" aria-labelledby="tape-title">
      <h2 id="tape-title">
        Trades <span class="muted">{view.trades.state === 'live' ? '' : `(${view.trades.state})`}</span>
      </h2>
      <table class="tape" data-testid="tape">
        <thead>
          <tr>
            <th scope="col">Time ({tz === 'utc' ? 'UTC' : 'local'})</th>
            <th scope="col">Side</th>
            <th scope="col">Price</th>
            <th scope="col">Qty</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((t) => (
            <tr key={t.id} class={`trade-${t.side}`}>
              <td>{formatClock(t.timeMs, tz, true)}</td>
              <td>{t.side === 'buy' ? 'buy' : 'sell'}</td>
              <td>{t.priceText}</td>
              <td>{t.qtyText}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p class="muted">Waiting for trades…</p>}
    </section>
  );
}
