import { useEffect, useRef } from 'preact/hooks';
import type { DashboardController, DashboardView } from '../app/dashboard-controller.js';
import type { ThemeName } from '../chart/chart-theme.js';
import { PriceChart } from '../chart/price-chart.js';
import type { TimeZoneMode } from '../chart/time-format.js';
import { priceDecimals } from './format.js';

interface Props {
  readonly controller: DashboardController;
  readonly view: DashboardView;
  readonly theme: ThemeName;
  readonly tz: TimeZoneMode;
  readonly onChart?: (chart: PriceChart) => void;
}

/** The chart, with a legend and keyboard control (arrows scroll, +/- zoom, Home loads older, End: latest). */
export function ChartView({ controller, view, theme, tz, onChart }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<PriceChart | null>(null);
  const decimals = useRef<number | null>(null);

  useEffect(() => {
    if (!host.current) return;
    const c = new PriceChart(host.current, {
      theme,
      timeZone: tz,
      anchorOf: controller.anchorOf,
      onNeedOlder: () => void controller.loadOlder(),
    });
    chart.current = c;
    controller.attachChart(c);
    onChart?.(c);
    return () => {
      c.destroy();
      chart.current = null;
    };
    // The chart lives as long as the page; theme and zone changes are applied below.
  }, [controller]);

  useEffect(() => {
    chart.current?.setTheme(theme, controller.store.finals, controller.store.provisional);
  }, [theme, controller]);

  useEffect(() => {
    chart.current?.setTimeZone(tz);
  }, [tz]);

  const reference = view.lastFinal?.close ?? view.provisional?.close;
  useEffect(() => {
    if (reference === undefined || !chart.current) return;
    const d = priceDecimals(reference);
    if (decimals.current !== d) {
      decimals.current = d;
      chart.current.setPriceDecimals(d);
    }
  }, [reference]);

  const onKey = (e: KeyboardEvent) => {
    const c = chart.current;
    if (!c) return;
    const ts = c.api.timeScale();
    const range = ts.getVisibleLogicalRange();
    if (!range) return;
    const width = range.to - range.from;
    let handled = true;
    if (e.key === 'ArrowLeft')
      ts.setVisibleLogicalRange({ from: range.from - width / 5, to: range.to - width / 5 });
    else if (e.key === 'ArrowRight')
      ts.setVisibleLogicalRange({ from: range.from + width / 5, to: range.to + width / 5 });
    else if (e.key === '+' || e.key === '=')
      ts.setVisibleLogicalRange({ from: range.from + width / 4, to: range.to });
    else if (e.key === '-') ts.setVisibleLogicalRange({ from: range.from - width / 2, to: range.to });
    else if (e.key === 'End') ts.scrollToRealTime();
    else if (e.key === 'Home') void controller.loadOlder();
    else handled = false;
    if (handled) e.preventDefault();
  };

  const label = view.meta
    ? `${view.meta.symbol} ${view.meta.interval} candlestick chart with EMA, VWAP and bands${view.simulated ? ', simulated market' : ''}. Arrow keys scroll, plus and minus zoom.`
    : 'Candlestick chart, loading';
  return (
    <section class="chart-panel" aria-labelledby="chart-title">
      <div class="chart-head">
        <h2 id="chart-title" class="visually-hidden">
          Chart
        </h2>
        <ul class="legend" aria-label="Legend">
          <li>
            <span class="swatch swatch-ema" aria-hidden="true" />
            EMA
          </li>
          <li>
            <span class="swatch swatch-vwap" aria-hidden="true" />
            VWAP
          </li>
          <li>
            <span class="swatch swatch-band" aria-hidden="true" />
            ±σ bands
          </li>
          <li>
            <span class="swatch swatch-open" aria-hidden="true" />
            open candle (provisional)
          </li>
          <li>▼ overbought ▲ oversold</li>
        </ul>
        <div class="chart-buttons">
          <button
            type="button"
            onClick={() => void controller.loadOlder()}
            disabled={view.olderState === 'loading' || view.olderState === 'exhausted'}
          >
            {view.olderState === 'loading'
              ? 'Loading…'
              : view.olderState === 'exhausted'
                ? 'No older data'
                : 'Load older'}
          </button>
          <button type="button" onClick={() => chart.current?.api.timeScale().scrollToRealTime()}>
            Latest
          </button>
        </div>
      </div>
      <div
        class="chart"
        ref={host}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the canvas is scrolled and zoomed from the keyboard (onKeyDown)
        tabIndex={0}
        role="application"
        aria-roledescription="chart"
        aria-label={label}
        onKeyDown={onKey}
        data-testid="chart"
        data-candles={String(view.candleCount)}
      />
    </section>
  );
}
