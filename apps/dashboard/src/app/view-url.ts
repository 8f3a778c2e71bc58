import type { TimeZoneMode } from '../chart/time-format.js';

/** What a link to the page carries: the stream on view and the time zone of its labels. */
export interface ViewState {
  /** `btcusdt@kline_1m`; null: the default stream. */
  readonly stream: string | null;
  readonly timeZone: TimeZoneMode;
}

/**
 * Reads `?symbol=BTCUSDT&interval=1m&tz=local`. Symbol and interval are separate, readable
 * parameters; an invalid pair is ignored (the page then shows the default stream).
 */
export function parseViewUrl(search: string): ViewState {
  const params = new URLSearchParams(search);
  const symbol = params.get('symbol');
  const interval = params.get('interval');
  const valid =
    symbol && interval && /^[A-Za-z0-9]{2,20}$/.test(symbol) && /^\d{1,2}[smhdwM]$/.test(interval);
  return {
    stream: valid ? `${symbol.toLowerCase()}@kline_${interval}` : null,
    timeZone: params.get('tz') === 'local' ? 'local' : 'utc',
  };
}

/** The query string for a view; the default time zone (UTC) is left out. */
export function formatViewUrl(view: { readonly stream: string; readonly timeZone: TimeZoneMode }): string {
  const m = /^([a-z0-9]+)@kline_(\w+)$/.exec(view.stream);
  const params = new URLSearchParams();
  if (m?.[1] && m[2]) {
    params.set('symbol', m[1].toUpperCase());
    params.set('interval', m[2]);
  }
  if (view.timeZone === 'local') params.set('tz', 'local');
  return `?${params.toString()}`;
}
