export type ThemeName = 'dark' | 'light';

/** Chart colours per theme; the page's CSS uses the same values (styles.css). */
export interface ChartPalette {
  readonly background: string;
  readonly text: string;
  readonly grid: string;
  readonly border: string;
  readonly up: string;
  readonly down: string;
  /** The still-open candle: the same hue, translucent, so it reads as "not final". */
  readonly upProvisional: string;
  readonly downProvisional: string;
  readonly provisionalBorder: string;
  readonly volumeUp: string;
  readonly volumeDown: string;
  readonly ema: string;
  readonly vwap: string;
  readonly band1: string;
  readonly band2: string;
  readonly overbought: string;
  readonly oversold: string;
  readonly watermark: string;
}

export const PALETTES: Readonly<Record<ThemeName, ChartPalette>> = {
  dark: {
    background: '#0f1419',
    text: '#d6dbe1',
    grid: '#1c252e',
    border: '#2b3742',
    up: '#26a69a',
    down: '#ef5350',
    upProvisional: 'rgba(38, 166, 154, 0.35)',
    downProvisional: 'rgba(239, 83, 80, 0.35)',
    provisionalBorder: '#e0e0e0',
    volumeUp: 'rgba(38, 166, 154, 0.45)',
    volumeDown: 'rgba(239, 83, 80, 0.45)',
    ema: '#f5c542',
    vwap: '#5aa9ff',
    band1: 'rgba(90, 169, 255, 0.7)',
    band2: 'rgba(90, 169, 255, 0.45)',
    overbought: '#ff7b72',
    oversold: '#56d364',
    watermark: 'rgba(255, 170, 0, 0.16)',
  },
  light: {
    background: '#ffffff',
    text: '#1f2328',
    grid: '#eef1f4',
    border: '#d0d7de',
    up: '#0f7b6c',
    down: '#c62828',
    upProvisional: 'rgba(15, 123, 108, 0.3)',
    downProvisional: 'rgba(198, 40, 40, 0.3)',
    provisionalBorder: '#57606a',
    volumeUp: 'rgba(15, 123, 108, 0.35)',
    volumeDown: 'rgba(198, 40, 40, 0.35)',
    ema: '#a05a00',
    vwap: '#0b5cad',
    band1: 'rgba(11, 92, 173, 0.7)',
    band2: 'rgba(11, 92, 173, 0.45)',
    overbought: '#b42318',
    oversold: '#0a7a33',
    watermark: 'rgba(200, 120, 0, 0.14)',
  },
};
