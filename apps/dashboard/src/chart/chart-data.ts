import type { WireIndicatorPoint } from '@visualgo/contracts/algo';
import type { ChartPalette } from './chart-theme.js';

/** Seconds since the epoch, what lightweight-charts calls `UTCTimestamp`. */
export type ChartTime = number & { readonly __brand?: 'UTCTimestamp' };

export interface CandleBar {
  time: ChartTime;
  open: number;
  high: number;
  low: number;
  close: number;
  color?: string;
  borderColor?: string;
  wickColor?: string;
}

/** A line value, or a gap in the line (whitespace) where the indicator has no value. */
export type LineValue = { time: ChartTime; value: number; color?: string } | { time: ChartTime };

export interface VolumeBar {
  time: ChartTime;
  value: number;
  color: string;
}

/** A candle sits at its open time, as exchanges and TradingView place it. */
export function chartTime(openTimeMs: number): ChartTime {
  return Math.floor(openTimeMs / 1000) as ChartTime;
}

export function candleBar(p: WireIndicatorPoint, palette: ChartPalette): CandleBar {
  const bar: CandleBar = {
    time: chartTime(p.openTimeMs),
    open: p.open,
    high: p.high,
    low: p.low,
    close: p.close,
  };
  if (!p.final) {
    bar.color = p.close >= p.open ? palette.upProvisional : palette.downProvisional;
    bar.borderColor = palette.provisionalBorder;
    bar.wickColor = palette.provisionalBorder;
  }
  return bar;
}

export function volumeBar(p: WireIndicatorPoint, palette: ChartPalette): VolumeBar {
  const up = p.close >= p.open;
  let color = up ? palette.volumeUp : palette.volumeDown;
  if (!p.final) color = up ? palette.upProvisional : palette.downProvisional;
  return { time: chartTime(p.openTimeMs), value: p.volume, color };
}

/**
 * A line point; whitespace when the value is null (not warmed up). `breakBefore` hides the segment
 * leading to this point (a VWAP anchor reset: the new period's line must not join the old one).
 * `faintColor` draws a value that is provisional or not exact yet.
 */
export function lineValue(
  p: WireIndicatorPoint,
  value: number | null,
  options: { readonly breakBefore?: boolean; readonly faintColor?: string } = {},
): LineValue {
  const time = chartTime(p.openTimeMs);
  if (value === null) return { time };
  if (options.breakBefore) return { time, value, color: 'transparent' };
  if (options.faintColor) return { time, value, color: options.faintColor };
  return { time, value };
}

/** Band multipliers present on a point, ascending ("1", "2"). */
export function bandKeys(p: WireIndicatorPoint): string[] {
  return p.vwapBands ? Object.keys(p.vwapBands).sort((a, b) => Number(a) - Number(b)) : [];
}

export function bandValue(p: WireIndicatorPoint, key: string, side: 0 | 1): number | null {
  return p.vwapBands?.[key]?.[side] ?? null;
}
