import type { StreamInfo } from '../app/dashboard-controller.js';

interface Props {
  readonly stream: string;
  readonly streams: readonly StreamInfo[];
  readonly onSelect: (stream: string) => void;
}

const INTERVAL_ORDER = [
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
];

/** Symbol and interval, from what trading-algo serves (`/api/streams`). */
export function StreamPicker({ stream, streams, onSelect }: Props) {
  const [symbolPart, intervalPart] = stream.split('@kline_');
  const symbol = (symbolPart ?? '').toUpperCase();
  const symbols = [...new Set(streams.map((s) => s.symbol))].sort();
  if (!symbols.includes(symbol)) symbols.unshift(symbol);
  const intervalsOf = (sym: string) =>
    streams
      .filter((s) => s.symbol === sym)
      .map((s) => s.interval)
      .sort((a, b) => INTERVAL_ORDER.indexOf(a) - INTERVAL_ORDER.indexOf(b));
  const intervals = intervalsOf(symbol);
  if (intervalPart && !intervals.includes(intervalPart)) intervals.unshift(intervalPart);
  const choose = (sym: string, interval: string | undefined) => {
    const available = intervalsOf(sym);
    const next = interval && available.includes(interval) ? interval : available[0];
    if (next) onSelect(`${sym.toLowerCase()}@kline_${next}`);
  };
  return (
    <div class="picker">
      <label>
        <span>Symbol</span>
        <select
          id="symbol"
          value={symbol}
          onChange={(e) => choose((e.currentTarget as HTMLSelectElement).value, intervalPart)}
        >
          {symbols.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>Interval</span>
        <select
          id="interval"
          value={intervalPart}
          onChange={(e) => choose(symbol, (e.currentTarget as HTMLSelectElement).value)}
        >
          {intervals.map((i) => (
            <option key={i} value={i}>
              {i}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}
