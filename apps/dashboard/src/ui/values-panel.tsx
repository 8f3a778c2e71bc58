import type { WireIndicatorPoint } from '@visualgo/contracts/algo';
import type { DashboardView } from '../app/dashboard-controller.js';
import { formatClock, type TimeZoneMode } from '../chart/time-format.js';
import type { SideArming } from '../model/arming.js';
import { formatNumber, formatPrice } from './format.js';

interface Row {
  readonly field: string;
  readonly label: string;
  readonly value: (p: WireIndicatorPoint) => number | null;
  readonly kind: 'price' | 'stretch';
}

function rows(p: WireIndicatorPoint | null): Row[] {
  const base: Row[] = [
    { field: 'close', label: 'Close', value: (x) => x.close, kind: 'price' },
    { field: 'ema', label: 'EMA', value: (x) => x.ema, kind: 'price' },
    { field: 'vwap', label: 'VWAP', value: (x) => x.vwap, kind: 'price' },
  ];
  const keys = p?.vwapBands ? Object.keys(p.vwapBands).sort((a, b) => Number(a) - Number(b)) : [];
  for (const k of keys) {
    base.push({
      field: `band${k}Upper`,
      label: `VWAP +${k}σ`,
      value: (x) => x.vwapBands?.[k]?.[1] ?? null,
      kind: 'price',
    });
    base.push({
      field: `band${k}Lower`,
      label: `VWAP −${k}σ`,
      value: (x) => x.vwapBands?.[k]?.[0] ?? null,
      kind: 'price',
    });
  }
  base.push({ field: 'atr', label: 'ATR', value: (x) => x.atr, kind: 'price' });
  base.push({ field: 'stretch', label: 'Stretch (ATRs)', value: (x) => x.stretch, kind: 'stretch' });
  return base;
}

/** Whether a row's value on this point may differ from its full-history value. */
function uncertain(p: WireIndicatorPoint, row: Row): boolean {
  if (row.field === 'ema' || row.field === 'atr' || row.field === 'stretch') return !p.converged;
  if (row.field === 'vwap' || row.field.startsWith('band')) return p.vwapPartial;
  return false;
}

function Cell({ p, row, reference }: { p: WireIndicatorPoint | null; row: Row; reference: number }) {
  const v = p ? row.value(p) : null;
  const text = row.kind === 'stretch' ? formatNumber(v, 3) : formatPrice(v, reference);
  const approx = p !== null && v !== null && uncertain(p, row);
  return (
    <td
      data-field={row.field}
      data-value={v === null ? '' : String(v)}
      class={approx ? 'uncertain' : undefined}
      title={approx ? 'not exact yet: computed from incomplete history' : undefined}
    >
      {approx && (
        <>
          <span aria-hidden="true">≈</span>
          <span class="visually-hidden">approximately </span>
        </>
      )}
      {text}
    </td>
  );
}

function SideState({ name, side, tz }: { name: string; side: SideArming; tz: TimeZoneMode }) {
  return (
    <li data-testid={`arming-${name}`} data-armed={String(side.armed)}>
      <span class={`side side-${name}`}>{name}</span> <strong>{side.armed ? 'armed' : 'fired'}</strong>
      {side.lastFiredMs !== null && (
        <span class="muted"> · last fired {formatClock(side.lastFiredMs, tz)}</span>
      )}
    </li>
  );
}

/** Latest values: the last closed candle (what trading-algo committed) beside the live, provisional one. */
export function ValuesPanel({ view, tz }: { readonly view: DashboardView; readonly tz: TimeZoneMode }) {
  const last = view.lastFinal;
  const open = view.provisional;
  const reference = last?.close ?? open?.close ?? 1;
  const list = rows(last ?? open);
  const wouldFire = open && open.signal !== 'none' ? open.signal : null;
  return (
    <section class="panel" aria-labelledby="values-title">
      <h2 id="values-title">Values</h2>
      <table class="values" data-testid="values" data-open-time={last ? String(last.openTimeMs) : ''}>
        <thead>
          <tr>
            <th scope="col">
              <span class="visually-hidden">Indicator</span>
            </th>
            <th scope="col">Closed {last ? formatClock(last.openTimeMs, tz).slice(0, 5) : ''}</th>
            <th scope="col" class="provisional-col">
              Live <span class="muted">(provisional)</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.map((row) => (
            <tr key={row.field}>
              <th scope="row">{row.label}</th>
              <Cell p={last} row={row} reference={reference} />
              <Cell p={open} row={row} reference={reference} />
            </tr>
          ))}
          <tr>
            <th scope="row">Signal</th>
            <td data-field="signal" data-value={last?.signal ?? ''}>
              {last ? last.signal : '—'}
            </td>
            <td class="provisional-col">{wouldFire ? `would fire: ${wouldFire}` : open ? 'none' : '—'}</td>
          </tr>
        </tbody>
      </table>
      <Notices point={last ?? open} tz={tz} />
      <ul class="arming" aria-label={`Rubberband arming, K = ${view.rubberbandK}`}>
        <SideState name="overbought" side={view.arming.overbought} tz={tz} />
        <SideState name="oversold" side={view.arming.oversold} tz={tz} />
        <li class="muted">
          K = {view.rubberbandK}; a side re-arms when |stretch| &lt; K/2 or a new VWAP period starts
        </li>
      </ul>
    </section>
  );
}

/** What the values cannot promise yet: a VWAP over part of its period, EMA/ATR still converging. */
function Notices({ point, tz }: { point: WireIndicatorPoint | null; tz: TimeZoneMode }) {
  if (!point) return null;
  const notes: string[] = [];
  if (point.vwapPartial && point.vwapFromMs !== null) {
    notes.push(
      `Partial VWAP since ${formatClock(point.vwapFromMs, tz).slice(0, 5)}${tz === 'utc' ? ' UTC' : ''}: the history does not reach the start of its period, so VWAP and bands cover part of it and no signal fires.`,
    );
  }
  if (!point.converged) {
    notes.push(
      'EMA and ATR are still converging (incomplete history): values marked ≈ may differ from their full-history values; no signal fires.',
    );
  }
  if (notes.length === 0) return null;
  return (
    <ul class="notices" data-testid="value-notices">
      {notes.map((n) => (
        <li key={n}>{n}</li>
      ))}
    </ul>
  );
}
