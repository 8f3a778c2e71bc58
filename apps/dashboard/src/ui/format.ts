/** Decimals for a price of this size: 2 above 1000, 4 above 1, else 6 significant digits' worth. */
export function priceDecimals(reference: number): number {
  const abs = Math.abs(reference);
  if (abs >= 1000) return 2;
  if (abs >= 1) return 4;
  if (abs === 0) return 2;
  return Math.min(10, Math.max(2, 5 - Math.floor(Math.log10(abs))));
}

export function formatPrice(value: number | null | undefined, reference?: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toFixed(priceDecimals(reference ?? value));
}

export function formatNumber(value: number | null | undefined, decimals: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toFixed(decimals);
}

export function formatSignedPct(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  return `${value > 0 ? '+' : value < 0 ? '−' : ''}${Math.abs(value).toFixed(2)}%`;
}

/** "850 ms", "2.4 s", "3 min". */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  const abs = Math.abs(ms);
  const sign = ms < 0 ? '−' : '';
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(1)} s`;
  if (abs < 3_600_000) return `${sign}${Math.round(abs / 60_000)} min`;
  return `${sign}${(abs / 3_600_000).toFixed(1)} h`;
}
