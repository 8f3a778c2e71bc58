/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * system on the simulated exchange: every check reads the page's DOM or the chart's own API
 * (`window.visualgo.chart`), and every wait is on a condition, never a fixed sleep.
 */
import { indicatorHistoryResponseSchema } from '@visualgo/contracts/algo';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.js';
import { type Stack, startStack } from './stack.js';

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const errors: string[] = [];
let algoDown = false;

/** The chart's series as the chart itself reports them. */
function chartState(p: Page) {
  return p.evaluate(() => window.visualgo?.chart?.describe() ?? null);
}

beforeAll(async () => {
  // A fixed seed and start give the same market every run; at 60x a 1m candle closes every second.
  stack = await startStack({ seed: 'visualgo', start: '2025-01-15T12:00:00Z', speed: 60 });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: 'Asia/Kolkata' });
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Chromium logs each refused WebSocket attempt; those are expected while trading-algo is down.
    if (
      m.type() === 'error' &&
      !(algoDown && /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws\?/.test(m.text()))
    ) {
      errors.push(`console: ${m.text()}`);
    }
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('dashboard in Chromium against the simulated stack', () => {
  it('draws candles, volume, EMA, VWAP and bands from the snapshot, with signal markers and SIMULATED', async () => {
    await page.goto(`${stack.dashboardUrl}?symbol=BTCUSDT&interval=1m`);
    await page.waitForSelector('html[data-ready="true"]');
    await page.waitForFunction(() => (window.visualgo?.chart?.describe().candles ?? 0) >= 400);
    const state = await chartState(page);
    expect(state).not.toBeNull();
    const s = state as Record<string, number>;
    expect(s.volume).toBe(s.candles);
    for (const series of ['ema', 'vwap', 'band1Lower', 'band1Upper', 'band2Lower', 'band2Upper']) {
      expect(s[series], series).toBeGreaterThan(300);
    }
    expect(s.markers).toBeGreaterThanOrEqual(1);
    const sim = page.getByTestId('simulated');
    expect(await sim.isVisible()).toBe(true);
    expect(await sim.textContent()).toBe('SIMULATED');
    expect(await page.getByTestId('exchange').textContent()).toContain('SIMULATED');
    expect(await page.locator('.sim-banner').isVisible()).toBe(true);
    expect(await page.getByTestId('connection-state').getAttribute('data-state')).toBe('live');
  });

  it('draws the open candle provisionally: translucent, outlined, replaced once it closes', async () => {
    const handle = await page.waitForFunction(() => {
      const chart = window.visualgo?.chart;
      const open = window.visualgo?.controller.view().provisional;
      const last = chart?.candles.data().at(-1) as { time: number; color?: string } | undefined;
      if (!open || !last || last.time !== open.openTimeMs / 1000 || !last.color) return null;
      return { time: last.time, color: last.color };
    });
    const provisional = (await handle.jsonValue()) as { time: number; color: string };
    expect(provisional.color).toMatch(/^rgba\(.*0\.3\d*\)$/);
    // Once that candle closes, its bar is drawn final: no per-bar colour override.
    await page.waitForFunction((time) => {
      const bar = window.visualgo?.chart?.candles.data().find((d) => (d as { time: number }).time === time);
      return bar !== undefined && !('color' in bar);
    }, provisional.time);
  });

  it("shows in the values panel exactly trading-algo's values for the last closed candle", async () => {
    const panel = await page.evaluate(() => {
      const table = document.querySelector('[data-testid="values"]');
      const values: Record<string, string> = {};
      for (const row of table?.querySelectorAll('tbody tr') ?? []) {
        const cell = row.querySelector('td[data-field]');
        const field = cell?.getAttribute('data-field');
        if (field) values[field] = cell?.getAttribute('data-value') ?? '';
      }
      return { openTimeMs: Number(table?.getAttribute('data-open-time')), values };
    });
    const res = await fetch(`${stack.algoUrl}/api/indicators?stream=btcusdt@kline_1m&limit=200`);
    const body = indicatorHistoryResponseSchema.parse(await res.json());
    const p = body.points.find((x) => x.openTimeMs === panel.openTimeMs);
    expect(p, `point ${panel.openTimeMs} in /api/indicators`).toBeDefined();
    if (!p) return;
    const expected: Record<string, string> = {
      close: String(p.close),
      ema: String(p.ema ?? ''),
      vwap: String(p.vwap ?? ''),
      atr: String(p.atr ?? ''),
      stretch: String(p.stretch ?? ''),
      signal: p.signal,
    };
    for (const [k, [lower, upper]] of Object.entries(p.vwapBands ?? {})) {
      expected[`band${k}Lower`] = String(lower);
      expected[`band${k}Upper`] = String(upper);
    }
    expect(panel.values).toEqual(expected);
  });

  it('streams the trade tape: buyer and seller sides, exchange trade times', async () => {
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="tape"] tbody tr').length >= 5);
    const rows = await page.$$eval('[data-testid="tape"] tbody tr', (trs) =>
      trs.slice(0, 5).map((tr) => ({
        cls: tr.className,
        cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
      })),
    );
    for (const r of rows) {
      expect(r.cls).toMatch(/^trade-(buy|sell)$/);
      expect(r.cells[1]).toBe(r.cls.replace('trade-', ''));
      expect(r.cells[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
      expect(Number(r.cells[2])).toBeGreaterThan(0);
    }
  });

  it('switches the time labels between UTC and the local zone, and keeps it in the URL', async () => {
    const first = page.locator('[data-testid="signals"] tbody tr').first();
    const openTimeMs = Number(await first.getAttribute('data-open-time'));
    const utc = new Date(openTimeMs).toISOString().slice(5, 16).replace('T', ' ');
    expect(await first.locator('td').first().textContent()).toBe(utc);
    await page.getByRole('button', { name: 'Local' }).click();
    await page.waitForFunction(() => window.location.search.includes('tz=local'));
    // Asia/Kolkata is UTC+5:30, without daylight saving.
    const local = new Date(openTimeMs + 5.5 * 3_600_000).toISOString().slice(5, 16).replace('T', ' ');
    expect(await first.locator('td').first().textContent()).toBe(local);
    await page.getByRole('button', { name: 'UTC' }).click();
    await page.waitForFunction(() => !window.location.search.includes('tz=local'));
  });

  it('loads older candles when asked (scroll-back)', async () => {
    const before = Number(await page.getByTestId('chart').getAttribute('data-candles'));
    await page.getByRole('button', { name: 'Load older' }).click();
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="chart"]')?.getAttribute('data-candles')) > n + 100,
      before,
    );
    const s = (await chartState(page)) as Record<string, number>;
    expect(s.candles).toBeGreaterThan(before + 100);
  });

  it('switches symbol from the picker: chart, tape and URL follow', async () => {
    await page.selectOption('#symbol', 'ETHUSDT');
    await page.waitForFunction(() => window.location.search.includes('symbol=ETHUSDT'));
    await page.waitForFunction(() => {
      const v = window.visualgo?.controller.view();
      return v?.meta?.symbol === 'ETHUSDT' && v.candleCount >= 400 && v.tape[0]?.symbol === 'ETHUSDT';
    });
    const s = (await chartState(page)) as Record<string, number>;
    expect(s.candles).toBeGreaterThanOrEqual(400);
    expect(await page.locator('h1').textContent()).toContain('ETHUSDT 1m');
  });

  it('goes to reconnecting when trading-algo stops and back to live when it returns, without a reload', async () => {
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    algoDown = true;
    await stack.stopAlgo();
    await page.waitForSelector('[data-testid="connection-state"][data-state="reconnecting"]');
    await stack.startAlgo();
    await page.waitForSelector('[data-testid="connection-state"][data-state="live"]', { timeout: 60_000 });
    algoDown = false;
    await page.waitForFunction(() => (window.visualgo?.controller.view().candleCount ?? 0) >= 400);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(
      true,
    );
    expect(await page.getByTestId('simulated').isVisible()).toBe(true);
    expect(new URL(page.url()).searchParams.get('symbol')).toBe('ETHUSDT');
  }, 120_000);

  it('works from the keyboard, in both themes with readable contrast, and at a 390 px phone width', async () => {
    // Keyboard: the pickers and buttons are reachable with Tab and labelled.
    await page.focus('#symbol');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('symbol');
    expect(await page.getByLabel('Symbol').count()).toBe(1);
    expect(await page.getByLabel('Interval').count()).toBe(1);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('interval');
    for (const theme of ['dark', 'light'] as const) {
      if ((await page.evaluate(() => document.documentElement.dataset.theme)) !== theme) {
        await page.locator('.theme-toggle').click();
        await page.waitForFunction((t) => document.documentElement.dataset.theme === t, theme);
      }
      const worst = await page.evaluate(() => {
        const lum = (c: string) => {
          const [r, g, b] = (c.match(/[\d.]+/g) ?? []).map(Number).map((v) => {
            const s = v / 255;
            return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
        };
        const ratio = (a: string, b: string) => {
          const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
          return ((x ?? 0) + 0.05) / ((y ?? 0) + 0.05);
        };
        let min = { ratio: 99, text: '' };
        for (const el of document.querySelectorAll(
          '.panel td, .panel th, .panel li, .panel p, .top span, .top label, button, .sim-banner',
        )) {
          if (!el.textContent?.trim()) continue;
          let bgEl: Element | null = el;
          let bg = 'rgba(0, 0, 0, 0)';
          while (bgEl && /rgba\(0, 0, 0, 0\)|transparent/.test(bg)) {
            bg = getComputedStyle(bgEl).backgroundColor;
            bgEl = bgEl.parentElement;
          }
          const r = ratio(getComputedStyle(el).color, bg);
          if (r < min.ratio) min = { ratio: r, text: el.textContent.trim().slice(0, 40) };
        }
        return min;
      });
      expect(worst.ratio, `lowest contrast in ${theme}: "${worst.text}"`).toBeGreaterThanOrEqual(4.5);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => document.documentElement.scrollWidth <= 390);
    const chartBox = await page.getByTestId('chart').boundingBox();
    expect(chartBox?.width).toBeGreaterThan(300);
    expect(await page.locator('#symbol').isVisible()).toBe(true);
    expect(await page.getByTestId('simulated').isVisible()).toBe(true);
  });

  it('logged no page errors', () => {
    expect(errors).toEqual([]);
  });
});
