import type { WireIndicatorPoint } from '@visualgo/contracts/algo';
import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  createChart,
  createSeriesMarkers,
  createTextWatermark,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type ITextWatermarkPluginApi,
  LineSeries,
  LineStyle,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import {
  bandKeys,
  bandValue,
  type CandleBar,
  candleBar,
  chartTime,
  type LineValue,
  lineValue,
  type VolumeBar,
  volumeBar,
} from './chart-data.js';
import { type ChartPalette, PALETTES, type ThemeName } from './chart-theme.js';
import { formatChartTime, formatTickMark, type TimeZoneMode } from './time-format.js';

export interface PriceChartOptions {
  readonly theme: ThemeName;
  readonly timeZone: TimeZoneMode;
  /** Start of the VWAP anchor period of a point, to break the VWAP line at a reset; null: unknown. */
  readonly anchorOf?: (p: WireIndicatorPoint) => number | null;
  /** Called (at most once per data change) when the view nears the oldest candle held. */
  readonly onNeedOlder?: () => void;
}

interface BandPair {
  readonly lower: ISeriesApi<'Line'>;
  readonly upper: ISeriesApi<'Line'>;
}

/**
 * The price chart: candles at their open time, volume underneath, EMA, VWAP and its ±σ bands as
 * lines, rubberband signals as markers, and the still-open candle drawn translucent with a pale
 * outline. Keeps lightweight-charts' incremental path: `applyTail` updates or appends the newest
 * bar (O(1)); `reset` redraws everything (snapshot, scroll-back, trim).
 */
export class PriceChart {
  readonly api: IChartApi;
  readonly candles: ISeriesApi<'Candlestick'>;
  readonly volume: ISeriesApi<'Histogram'>;
  readonly ema: ISeriesApi<'Line'>;
  readonly vwap: ISeriesApi<'Line'>;
  readonly bands = new Map<string, BandPair>();
  readonly markers: ISeriesMarkersPluginApi<Time>;
  private readonly watermark: ITextWatermarkPluginApi<Time>;
  private palette: ChartPalette;
  private timeZone: TimeZoneMode;
  private lastAnchor: number | null = null;
  private lastTime: number | null = null;
  private firstTime: number | null = null;
  private olderRequested = false;
  private markerList: SeriesMarker<Time>[] = [];
  private priceFormat: { type: 'price'; precision: number; minMove: number } | null = null;

  constructor(
    container: HTMLElement,
    private readonly options: PriceChartOptions,
  ) {
    this.palette = PALETTES[options.theme];
    this.timeZone = options.timeZone;
    this.api = createChart(container, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: this.palette.background },
        textColor: this.palette.text,
        fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
        attributionLogo: true,
      },
      grid: { vertLines: { color: this.palette.grid }, horzLines: { color: this.palette.grid } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: this.palette.border },
      timeScale: {
        borderColor: this.palette.border,
        timeVisible: true,
        secondsVisible: false,
        rightOffset: 4,
        tickMarkFormatter: (time: Time, type: number) =>
          formatTickMark(time as UTCTimestamp, type, this.timeZone),
      },
      localization: { timeFormatter: (time: Time) => formatChartTime(time as UTCTimestamp, this.timeZone) },
    });
    this.candles = this.api.addSeries(CandlestickSeries, {
      upColor: this.palette.up,
      downColor: this.palette.down,
      borderUpColor: this.palette.up,
      borderDownColor: this.palette.down,
      wickUpColor: this.palette.up,
      wickDownColor: this.palette.down,
      title: '',
    });
    this.volume = this.api.addSeries(HistogramSeries, {
      priceScaleId: 'volume',
      priceFormat: { type: 'volume' },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.api.priceScale('volume').applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.22 } });
    this.ema = this.api.addSeries(LineSeries, {
      color: this.palette.ema,
      lineWidth: 2,
      title: 'EMA',
      priceLineVisible: false,
      crosshairMarkerVisible: false,
    });
    this.vwap = this.api.addSeries(LineSeries, {
      color: this.palette.vwap,
      lineWidth: 2,
      title: 'VWAP',
      priceLineVisible: false,
      crosshairMarkerVisible: false,
    });
    this.markers = createSeriesMarkers(this.candles, []);
    const pane = this.api.panes()[0];
    if (!pane) throw new Error('lightweight-charts created no pane');
    this.watermark = createTextWatermark(pane, { visible: false, lines: [] });
    this.api.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (!range || this.olderRequested || this.firstTime === null) return;
      if (range.from < 15) {
        this.olderRequested = true;
        options.onNeedOlder?.();
      }
    });
  }

  setTheme(theme: ThemeName, finals: readonly WireIndicatorPoint[], open: WireIndicatorPoint | null): void {
    this.palette = PALETTES[theme];
    const p = this.palette;
    this.api.applyOptions({
      layout: { background: { type: ColorType.Solid, color: p.background }, textColor: p.text },
      grid: { vertLines: { color: p.grid }, horzLines: { color: p.grid } },
      rightPriceScale: { borderColor: p.border },
      timeScale: { borderColor: p.border },
    });
    this.candles.applyOptions({
      upColor: p.up,
      downColor: p.down,
      borderUpColor: p.up,
      borderDownColor: p.down,
      wickUpColor: p.up,
      wickDownColor: p.down,
    });
    this.ema.applyOptions({ color: p.ema });
    this.vwap.applyOptions({ color: p.vwap });
    for (const [key, pair] of this.bands) {
      const color = key === this.bandKeyOrder()[0] ? p.band1 : p.band2;
      pair.lower.applyOptions({ color });
      pair.upper.applyOptions({ color });
    }
    this.watermark.applyOptions({ lines: this.watermarkLines(this.watermarkText) });
    this.reset(finals, open, { keepView: true });
  }

  setTimeZone(mode: TimeZoneMode): void {
    this.timeZone = mode;
    // The formatters read `this.timeZone`; re-applying makes the chart redraw its labels.
    this.api.applyOptions({
      timeScale: {
        tickMarkFormatter: (time: Time, type: number) =>
          formatTickMark(time as UTCTimestamp, type, this.timeZone),
      },
      localization: { timeFormatter: (time: Time) => formatChartTime(time as UTCTimestamp, this.timeZone) },
    });
  }

  private watermarkText = '';

  /** Price labels with as many decimals as the instrument needs (BNBBTC trades near 0.01). */
  setPriceDecimals(decimals: number): void {
    this.priceFormat = { type: 'price', precision: decimals, minMove: 10 ** -decimals };
    for (const s of [this.candles, this.ema, this.vwap]) s.applyOptions({ priceFormat: this.priceFormat });
    for (const pair of this.bands.values()) {
      pair.lower.applyOptions({ priceFormat: this.priceFormat });
      pair.upper.applyOptions({ priceFormat: this.priceFormat });
    }
  }

  /** A large "SIMULATED" across the chart whenever the candles come from the simulated exchange. */
  setWatermark(text: string): void {
    this.watermarkText = text;
    this.watermark.applyOptions({ visible: text.length > 0, lines: this.watermarkLines(text) });
  }

  private watermarkLines(text: string) {
    return text ? [{ text, color: this.palette.watermark, fontSize: 64, fontStyle: 'bold' }] : [];
  }

  /**
   * Redraws every series from the points. `keepView` holds the visible candles in place when older
   * ones were added in front (scroll-back) instead of jumping to the newest.
   */
  reset(
    finals: readonly WireIndicatorPoint[],
    open: WireIndicatorPoint | null,
    view: { readonly keepView?: boolean; readonly prepended?: number } = {},
  ): void {
    const points = open ? [...finals, open] : [...finals];
    const range = view.keepView ? this.api.timeScale().getVisibleLogicalRange() : null;
    const candles: CandleBar[] = [];
    const volume: VolumeBar[] = [];
    const ema: LineValue[] = [];
    const vwap: LineValue[] = [];
    const keys = new Set<string>();
    for (const p of points) for (const k of bandKeys(p)) keys.add(k);
    this.ensureBands([...keys]);
    const bandData = new Map<string, { lower: LineValue[]; upper: LineValue[] }>();
    for (const k of this.bands.keys()) bandData.set(k, { lower: [], upper: [] });
    this.lastAnchor = null;
    for (const p of points) {
      candles.push(candleBar(p, this.palette));
      volume.push(volumeBar(p, this.palette));
      const lines = this.lineValues(p);
      ema.push(lines.ema);
      vwap.push(lines.vwap);
      for (const [k, data] of bandData) {
        const pair = lines.bands.get(k);
        data.lower.push(pair?.lower ?? { time: chartTime(p.openTimeMs) });
        data.upper.push(pair?.upper ?? { time: chartTime(p.openTimeMs) });
      }
    }
    this.candles.setData(candles as Parameters<typeof this.candles.setData>[0]);
    this.volume.setData(volume as Parameters<typeof this.volume.setData>[0]);
    this.ema.setData(ema as Parameters<typeof this.ema.setData>[0]);
    this.vwap.setData(vwap as Parameters<typeof this.vwap.setData>[0]);
    for (const [k, pair] of this.bands) {
      const data = bandData.get(k);
      pair.lower.setData((data?.lower ?? []) as Parameters<typeof pair.lower.setData>[0]);
      pair.upper.setData((data?.upper ?? []) as Parameters<typeof pair.upper.setData>[0]);
    }
    this.setMarkers(finals);
    this.firstTime = points[0]?.openTimeMs ?? null;
    this.lastTime = points.at(-1)?.openTimeMs ?? null;
    if (range && view.prepended) {
      this.api
        .timeScale()
        .setVisibleLogicalRange({ from: range.from + view.prepended, to: range.to + view.prepended });
    } else if (range) {
      this.api.timeScale().setVisibleLogicalRange(range);
    }
    this.olderRequested = false;
  }

  /** Updates the newest bar or appends newer ones (points in time order, none older than the last). */
  applyTail(points: readonly WireIndicatorPoint[], finals: readonly WireIndicatorPoint[]): void {
    let newSignal = false;
    for (const p of points) {
      if (this.lastTime !== null && p.openTimeMs < this.lastTime) continue;
      const newKeys = bandKeys(p).filter((k) => !this.bands.has(k));
      if (newKeys.length > 0) {
        // A band multiplier appeared mid-stream (configuration changed upstream): redraw.
        this.reset(finals, p.final ? null : p, { keepView: true });
        return;
      }
      this.candles.update(candleBar(p, this.palette) as Parameters<typeof this.candles.update>[0]);
      this.volume.update(volumeBar(p, this.palette) as Parameters<typeof this.volume.update>[0]);
      const lines = this.lineValues(p);
      this.ema.update(lines.ema as Parameters<typeof this.ema.update>[0]);
      this.vwap.update(lines.vwap as Parameters<typeof this.vwap.update>[0]);
      for (const [k, pair] of this.bands) {
        const v = lines.bands.get(k);
        const time = chartTime(p.openTimeMs);
        pair.lower.update((v?.lower ?? { time }) as Parameters<typeof pair.lower.update>[0]);
        pair.upper.update((v?.upper ?? { time }) as Parameters<typeof pair.upper.update>[0]);
      }
      this.lastTime = p.openTimeMs;
      if (this.firstTime === null) this.firstTime = p.openTimeMs;
      if (p.final && p.signal !== 'none') newSignal = true;
    }
    if (newSignal) this.setMarkers(finals);
  }

  /** The number of markers drawn, and the bars per series: for tests and the page's own checks. */
  describe(): Record<string, number> {
    const out: Record<string, number> = {
      candles: this.candles.data().length,
      volume: this.volume.data().length,
      ema: countValues(this.ema.data()),
      vwap: countValues(this.vwap.data()),
      markers: this.markerList.length,
    };
    for (const [k, pair] of this.bands) {
      out[`band${k}Lower`] = countValues(pair.lower.data());
      out[`band${k}Upper`] = countValues(pair.upper.data());
    }
    return out;
  }

  get markerItems(): readonly SeriesMarker<Time>[] {
    return this.markerList;
  }

  destroy(): void {
    this.api.remove();
  }

  private setMarkers(finals: readonly WireIndicatorPoint[]): void {
    const list: SeriesMarker<Time>[] = [];
    for (const p of finals) {
      if (p.signal === 'overbought') {
        list.push({
          time: chartTime(p.openTimeMs) as UTCTimestamp,
          position: 'aboveBar',
          shape: 'arrowDown',
          color: this.palette.overbought,
          text: 'OB',
        });
      } else if (p.signal === 'oversold') {
        list.push({
          time: chartTime(p.openTimeMs) as UTCTimestamp,
          position: 'belowBar',
          shape: 'arrowUp',
          color: this.palette.oversold,
          text: 'OS',
        });
      }
    }
    this.markerList = list;
    this.markers.setMarkers(list);
  }

  private lineValues(p: WireIndicatorPoint): {
    ema: LineValue;
    vwap: LineValue;
    bands: Map<string, { lower: LineValue; upper: LineValue }>;
  } {
    const anchor = this.options.anchorOf?.(p) ?? null;
    const breakBefore = anchor !== null && this.lastAnchor !== null && anchor !== this.lastAnchor;
    if (anchor !== null && p.final) this.lastAnchor = anchor;
    const faint = !p.final;
    const bandFaint = faint || p.vwapPartial;
    const bands = new Map<string, { lower: LineValue; upper: LineValue }>();
    const order = this.bandKeyOrder();
    for (const k of bandKeys(p)) {
      const color = k === order[0] ? this.palette.band1 : this.palette.band2;
      bands.set(k, {
        lower: lineValue(p, bandValue(p, k, 0), {
          breakBefore,
          ...(bandFaint ? { faintColor: fade(color) } : {}),
        }),
        upper: lineValue(p, bandValue(p, k, 1), {
          breakBefore,
          ...(bandFaint ? { faintColor: fade(color) } : {}),
        }),
      });
    }
    // Values that may still differ from their full-history ones are drawn faint, like provisional ones.
    const emaFaint = faint || !p.converged;
    const vwapFaint = faint || p.vwapPartial;
    return {
      ema: lineValue(p, p.ema, emaFaint ? { faintColor: fade(this.palette.ema) } : {}),
      vwap: lineValue(p, p.vwap, {
        breakBefore,
        ...(vwapFaint ? { faintColor: fade(this.palette.vwap) } : {}),
      }),
      bands,
    };
  }

  private bandKeyOrder(): string[] {
    return [...this.bands.keys()].sort((a, b) => Number(a) - Number(b));
  }

  private ensureBands(keys: readonly string[]): void {
    const sorted = [...keys].sort((a, b) => Number(a) - Number(b));
    for (const k of sorted) {
      if (this.bands.has(k)) continue;
      const inner = this.bands.size === 0;
      const options = {
        color: inner ? this.palette.band1 : this.palette.band2,
        lineWidth: 1 as const,
        lineStyle: inner ? LineStyle.Solid : LineStyle.Dashed,
        priceLineVisible: false,
        lastValueVisible: false,
        crosshairMarkerVisible: false,
        ...(this.priceFormat ? { priceFormat: this.priceFormat } : {}),
      };
      this.bands.set(k, {
        lower: this.api.addSeries(LineSeries, { ...options, title: `-${k}σ` }),
        upper: this.api.addSeries(LineSeries, { ...options, title: `+${k}σ` }),
      });
    }
  }
}

function countValues(data: readonly unknown[]): number {
  let n = 0;
  for (const d of data) if (typeof d === 'object' && d !== null && 'value' in d) n++;
  return n;
}

/** The provisional segment of a line: the same colour at half strength. */
function fade(color: string): string {
  if (color.startsWith('#') && color.length === 7) return `${color}80`;
  const m = /^rgba\((\d+),\s*(\d+),\s*(\d+),\s*([\d.]+)\)$/.exec(color);
  return m ? `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${Number(m[4]) / 2})` : color;
}
