import type { DecimalStrings } from '../market-source.js';
import { formatUnits, KLINE_FIELD, type KlineSeries } from './kline-series.js';

/** Distinct states an open candle goes through when only its kline row is known. */
export const KLINE_PHASES = 4;

export interface PartialKline {
  readonly values: DecimalStrings;
  readonly trades: number;
}

/**
 * The still-open state of a recorded candle when no trades are at hand: the row alone says where
 * the price went (open, high, low, close), not when. The candle is cut into four equal parts of
 * its interval and walks the usual path, O → L → H → C for a rising candle (O → H → L → C for a
 * falling one): just opened, at the first extreme, at the second, at the close. Volumes and the
 * trade count grow in equal quarter shares (rounded down to 1e-8). Every price shown is one of
 * the row's own; the values end, at the close, on the row exactly. A stand-in for the path, not a
 * record of it: only closed candles are recorded data.
 */
export function partialKline(series: KlineSeries, row: number, untilMs: number): PartialKline {
  const openTime = series.openTimeMs(row);
  const length = series.closeTimeMs(row) + 1 - openTime;
  const phase = Math.max(
    0,
    Math.min(KLINE_PHASES - 1, Math.floor(((untilMs - openTime) * KLINE_PHASES) / length)),
  );
  const open = series.decimal(row, KLINE_FIELD.open);
  const high = series.decimal(row, KLINE_FIELD.high);
  const low = series.decimal(row, KLINE_FIELD.low);
  const close = series.decimal(row, KLINE_FIELD.close);
  const rising = series.units(row, KLINE_FIELD.close) >= series.units(row, KLINE_FIELD.open);
  const [first, second] = rising ? [low, high] : [high, low];
  const share = (field: number) =>
    formatUnits((series.units(row, field) * BigInt(phase)) / BigInt(KLINE_PHASES));
  const prices =
    phase === 0
      ? { open, high: open, low: open, close: open }
      : phase === 1
        ? rising
          ? { open, high: open, low: first, close: first }
          : { open, high: first, low: open, close: first }
        : { open, high, low, close: phase === 2 ? second : close };
  return {
    values: {
      ...prices,
      volume: share(KLINE_FIELD.volume),
      quoteVolume: share(KLINE_FIELD.quoteVolume),
      takerBuyVolume: share(KLINE_FIELD.takerBuyVolume),
      takerBuyQuoteVolume: share(KLINE_FIELD.takerBuyQuoteVolume),
    },
    trades: Math.floor((series.trades(row) * phase) / KLINE_PHASES),
  };
}
