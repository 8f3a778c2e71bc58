import { useEffect, useState } from 'preact/hooks';
import type { DashboardController } from '../app/dashboard-controller.js';
import { formatViewUrl } from '../app/view-url.js';
import type { ThemeName } from '../chart/chart-theme.js';
import type { PriceChart } from '../chart/price-chart.js';
import type { TimeZoneMode } from '../chart/time-format.js';
import { ChartView } from './chart-view.js';
import { ConnectionStatus } from './connection-status.js';
import { FeedPanel } from './feed-panel.js';
import { SignalsPanel } from './signals-panel.js';
import { StreamPicker } from './stream-picker.js';
import { TradeTape } from './trade-tape.js';
import { useView } from './use-view.js';
import { ValuesPanel } from './values-panel.js';

interface Props {
  readonly controller: DashboardController;
  readonly initialTimeZone: TimeZoneMode;
  readonly initialTheme: ThemeName;
  readonly onChart?: (chart: PriceChart) => void;
}

export function App({ controller, initialTimeZone, initialTheme, onChart }: Props) {
  const view = useView(controller);
  const [tz, setTz] = useState<TimeZoneMode>(initialTimeZone);
  const [theme, setTheme] = useState<ThemeName>(initialTheme);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    try {
      localStorage.setItem('visualgo.theme', theme);
    } catch {
      // Storage can be unavailable (private mode); the theme then lasts for this page only.
    }
  }, [theme]);

  // The view lives in the URL, so a link opens the same chart.
  useEffect(() => {
    const search = formatViewUrl({ stream: view.stream, timeZone: tz });
    if (search !== window.location.search) window.history.replaceState(null, '', search);
  }, [view.stream, tz]);

  const title = view.meta ? `${view.meta.symbol} ${view.meta.interval}` : view.stream;
  useEffect(() => {
    const price = view.provisional?.close ?? view.lastFinal?.close;
    document.title = `${price !== undefined ? `${price} · ` : ''}${title}${view.simulated ? ' · SIMULATED' : ''} · VisuALGO`;
  }, [title, view.provisional?.close, view.lastFinal?.close, view.simulated]);

  return (
    <>
      <a class="skip" href="#main">
        Skip to chart
      </a>
      <header class="top">
        <h1>
          VisuALGO <span class="muted">{title}</span>
        </h1>
        {view.simulated && (
          <strong class="sim-badge" data-testid="simulated">
            SIMULATED
          </strong>
        )}
        <StreamPicker
          stream={view.stream}
          streams={view.streams}
          onSelect={(s) => controller.selectStream(s)}
        />
        <ConnectionStatus view={view} />
        <div class="toggles">
          <fieldset class="segmented">
            <legend class="visually-hidden">Time zone</legend>
            {(['utc', 'local'] as const).map((m) => (
              <button key={m} type="button" aria-pressed={tz === m} onClick={() => setTz(m)}>
                {m === 'utc' ? 'UTC' : 'Local'}
              </button>
            ))}
          </fieldset>
          <button
            type="button"
            class="theme-toggle"
            aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
            onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')}
          >
            {theme === 'dark' ? '☀ Light' : '☾ Dark'}
          </button>
        </div>
      </header>
      {view.simulated && (
        <p class="sim-banner" role="note">
          Simulated market (<code>binance-sim</code>): these prices are not real.
        </p>
      )}
      {view.streamsError && <p class="notice">{view.streamsError}</p>}
      {view.serverError && <p class="notice">trading-algo: {view.serverError}</p>}
      <main id="main" class="layout">
        <ChartView
          controller={controller}
          view={view}
          theme={theme}
          tz={tz}
          {...(onChart ? { onChart } : {})}
        />
        <div class="side">
          <ValuesPanel view={view} tz={tz} />
          <SignalsPanel view={view} tz={tz} />
          <TradeTape view={view} tz={tz} />
          <FeedPanel view={view} tz={tz} />
        </div>
      </main>
    </>
  );
}
