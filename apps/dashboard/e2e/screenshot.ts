/**
 * Makes the README's screenshot of the dashboard (docs/dashboard.png) with the browser test's
 * tooling: the real stack on the simulated exchange, Debian's Chromium, dark theme, 1440x900.
 *
 *   npm run build -w @visualgo/dashboard && npm run screenshot [-- out.png]
 */
import { launchChromium } from './browser.js';
import { repoRoot, startStack } from './stack.js';

const out = process.argv[2] ?? `${repoRoot}docs/dashboard.png`;
// Market clock = this clock (not floored to the minute), so the lag shown is the pipeline's own.
const stack = await startStack({ seed: 'visualgo', speed: 1, start: String(Date.now()) });
const browser = await launchChromium();
try {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    colorScheme: 'dark',
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  await page.goto(`${stack.dashboardUrl}?symbol=BTCUSDT&interval=1m`);
  await page.waitForSelector('html[data-ready="true"]');
  // A picture worth showing: a full tape, a live provisional candle, the lag measured.
  await page.waitForFunction(
    () => {
      const v = window.visualgo?.controller.view();
      return v !== undefined && v.tape.length >= 12 && v.provisional !== null && v.tradeLagMs !== null;
    },
    undefined,
    { timeout: 60_000 },
  );
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await stack.close();
}
