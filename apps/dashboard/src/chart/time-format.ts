/** Times on the page are UTC (the exchange's clock and candle grid) unless the viewer asks for local. */
export type TimeZoneMode = 'utc' | 'local';

const pad = (n: number) => String(n).padStart(2, '0');

interface Parts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
}

function parts(ms: number, mode: TimeZoneMode): Parts {
  const d = new Date(ms);
  return mode === 'utc'
    ? {
        year: d.getUTCFullYear(),
        month: d.getUTCMonth() + 1,
        day: d.getUTCDate(),
        hours: d.getUTCHours(),
        minutes: d.getUTCMinutes(),
        seconds: d.getUTCSeconds(),
      }
    : {
        year: d.getFullYear(),
        month: d.getMonth() + 1,
        day: d.getDate(),
        hours: d.getHours(),
        minutes: d.getMinutes(),
        seconds: d.getSeconds(),
      };
}

/** `HH:MM:SS` (with milliseconds when asked), in the chosen zone. */
export function formatClock(ms: number, mode: TimeZoneMode, withMs = false): string {
  const p = parts(ms, mode);
  const base = `${pad(p.hours)}:${pad(p.minutes)}:${pad(p.seconds)}`;
  return withMs ? `${base}.${String(new Date(ms).getUTCMilliseconds()).padStart(3, '0')}` : base;
}

/** `YYYY-MM-DD HH:MM` plus the zone label, as the crosshair shows it. */
export function formatDateTime(ms: number, mode: TimeZoneMode, withSeconds = false): string {
  const p = parts(ms, mode);
  const time = `${pad(p.hours)}:${pad(p.minutes)}${withSeconds ? `:${pad(p.seconds)}` : ''}`;
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${time}${mode === 'utc' ? ' UTC' : ''}`;
}

export function formatChartTime(seconds: number, mode: TimeZoneMode): string {
  return formatDateTime(seconds * 1000, mode);
}

/**
 * Tick labels of the time axis. `type` is lightweight-charts' TickMarkType: 0 year, 1 month,
 * 2 day of month, 3 time, 4 time with seconds.
 */
export function formatTickMark(seconds: number, type: number, mode: TimeZoneMode): string {
  const p = parts(seconds * 1000, mode);
  switch (type) {
    case 0:
      return String(p.year);
    case 1:
      return `${p.year}-${pad(p.month)}`;
    case 2:
      return `${pad(p.month)}-${pad(p.day)}`;
    case 4:
      return `${pad(p.hours)}:${pad(p.minutes)}:${pad(p.seconds)}`;
    default:
      return `${pad(p.hours)}:${pad(p.minutes)}`;
  }
}
