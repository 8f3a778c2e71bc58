import { render } from 'preact';
import { DashboardController } from './app/dashboard-controller.js';
import { loadRuntimeConfig } from './app/runtime-config.js';
import { parseViewUrl } from './app/view-url.js';
import type { DashboardHandle } from './app/window-handle.js';
import type { ThemeName } from './chart/chart-theme.js';
import { App } from './ui/app.js';
import './styles.css';

/**
 * One flush per animation frame; the timeout covers hidden tabs, which get no frames, so queued
 * messages are still applied (about once a second there) and memory stays bounded.
 */
function requestFrame(flush: () => void): void {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    flush();
  };
  requestAnimationFrame(run);
  setTimeout(run, 250);
}

function initialTheme(): ThemeName {
  try {
    const stored = localStorage.getItem('visualgo.theme');
    if (stored === 'dark' || stored === 'light') return stored;
  } catch {
    // No storage: fall back to the system preference.
  }
  return window.matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark';
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) throw new Error('#app missing from index.html');
  let config: Awaited<ReturnType<typeof loadRuntimeConfig>>;
  try {
    config = await loadRuntimeConfig(window.fetch.bind(window));
  } catch (err) {
    root.textContent = `The dashboard cannot start: ${err instanceof Error ? err.message : String(err)}`;
    root.className = 'fatal';
    return;
  }
  const view = parseViewUrl(window.location.search);
  const controller = new DashboardController({
    config,
    stream: view.stream ?? config.defaultStream,
    socketFactory: (url) => new WebSocket(url),
    fetch: window.fetch.bind(window),
    requestFrame,
  });
  const handle: DashboardHandle = { controller, chart: null };
  window.visualgo = handle;
  controller.onFirstData(() =>
    requestAnimationFrame(() => {
      performance.mark('visualgo:interactive');
      document.documentElement.dataset.ready = 'true';
    }),
  );
  const theme = initialTheme();
  document.documentElement.dataset.theme = theme;
  render(
    <App
      controller={controller}
      initialTimeZone={view.timeZone}
      initialTheme={theme}
      onChart={(chart) => {
        handle.chart = chart;
      }}
    />,
    root,
  );
  controller.start();
  await controller.loadStreams();
  // A link to a stream the backend does not serve falls back to the first one it does.
  const served = controller.view().streams;
  if (served.length > 0 && !served.some((s) => s.stream === controller.stream)) {
    const fallback = served.find((s) => s.stream === config.defaultStream) ?? served[0];
    if (fallback) controller.selectStream(fallback.stream);
  }
  window.addEventListener('online', () => controller.reconnectNow());
}

void main();
