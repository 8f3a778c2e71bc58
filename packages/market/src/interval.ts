/**
 * Binance kline intervals. Fixed-length intervals are aligned to the Unix epoch, weeks start on
 * Monday 00:00 UTC, months on the 1st 00:00 UTC, exactly as Binance opens its candles.
 */
export const INTERVALS = [
  '1s',
  '1m',
  '3m',
  '5m',
  '15m',
  '30m',
  '1h',
  '2h',
  '4h',
  '6h',
  '8h',
  '12h',
  '1d',
  '3d',
  '1w',
  '1M',
] as const;

export type Interval = (typeof INTERVALS)[number];

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-01 was a Thursday; Binance weeks open on Monday, four days later. */
const WEEK_OFFSET_MS = 4 * DAY_MS;

const FIXED_MS: Readonly<Record<Exclude<Interval, '1M'>, number>> = {
  '1s': SECOND_MS,
  '1m': MINUTE_MS,
  '3m': 3 * MINUTE_MS,
  '5m': 5 * MINUTE_MS,
  '15m': 15 * MINUTE_MS,
  '30m': 30 * MINUTE_MS,
  '1h': HOUR_MS,
  '2h': 2 * HOUR_MS,
  '4h': 4 * HOUR_MS,
  '6h': 6 * HOUR_MS,
  '8h': 8 * HOUR_MS,
  '12h': 12 * HOUR_MS,
  '1d': DAY_MS,
  '3d': 3 * DAY_MS,
  '1w': WEEK_MS,
};

export function isInterval(value: string): value is Interval {
  return (INTERVALS as readonly string[]).includes(value);
}

/** Nominal length of an interval; a month counts as 30 days (use {@link intervalCloseTimeMs} for exact bounds). */
export function intervalNominalMs(interval: Interval): number {
  return interval === '1M' ? 30 * DAY_MS : FIXED_MS[interval];
}

function floorMod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

/** Open time of the candle of `interval` that contains the instant `timeMs`. */
export function intervalOpenTimeMs(interval: Interval, timeMs: number): number {
  if (interval === '1M') {
    const d = new Date(timeMs);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
  if (interval === '1w' || interval === '3d') {
    // Binance aligns 3d candles to the epoch and weeks to Mondays.
    const offset = interval === '1w' ? WEEK_OFFSET_MS : 0;
    return timeMs - floorMod(timeMs - offset, FIXED_MS[interval]);
  }
  return timeMs - floorMod(timeMs, FIXED_MS[interval]);
}

/** Open time of the candle that follows the one opening at `openTimeMs`. */
export function nextOpenTimeMs(interval: Interval, openTimeMs: number): number {
  if (interval === '1M') {
    const d = new Date(openTimeMs);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
  return openTimeMs + FIXED_MS[interval];
}

/** Close time as Binance reports it: the last millisecond of the candle. */
export function intervalCloseTimeMs(interval: Interval, openTimeMs: number): number {
  return nextOpenTimeMs(interval, openTimeMs) - 1;
}

/**
 * Position of a candle on its interval's grid: the number of whole intervals from the grid's
 * origin (the Unix epoch; Monday 1970-01-05 for weeks; January 1970 for months) to `openTimeMs`,
 * which must be an open time of `interval`. Candle indices are how calendar-fixed origins are
 * counted: they never depend on which candles a process happens to hold.
 */
export function candleIndexOf(interval: Interval, openTimeMs: number): number {
  if (interval === '1M') {
    const d = new Date(openTimeMs);
    return (d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth();
  }
  const offset = interval === '1w' ? WEEK_OFFSET_MS : 0;
  return Math.floor((openTimeMs - offset) / FIXED_MS[interval]);
}

/** Open time of the candle at `index` on the grid of `interval` (the inverse of {@link candleIndexOf}). */
export function openTimeOfCandleIndex(interval: Interval, index: number): number {
  if (interval === '1M') return Date.UTC(1970 + Math.floor(index / 12), floorMod(index, 12), 1);
  const offset = interval === '1w' ? WEEK_OFFSET_MS : 0;
  return offset + index * FIXED_MS[interval];
}
