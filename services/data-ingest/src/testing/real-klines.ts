import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BinanceKlineRow, binanceKlineRow } from '@visualgo/contracts';

/**
 * Real Binance spot klines, two days of ETHUSDT 1m (2022-08-14/15) from Binance's public data
 * archive, in the shared data folder beside the repository (never copied into it).
 */
export const REAL_KLINES_DIR = fileURLToPath(
  new URL('../../../../../shared/data/binance-spot-ethusdt-1m/', import.meta.url),
);

export const HAVE_REAL_KLINES = existsSync(REAL_KLINES_DIR);

/** A row of Binance's public CSV dumps, typed as the REST endpoint returns it. */
function csvLineToRow(line: string): BinanceKlineRow {
  const c = line.trim().split(',');
  return binanceKlineRow.parse([
    Number(c[0]),
    c[1],
    c[2],
    c[3],
    c[4],
    c[5],
    Number(c[6]),
    c[7],
    Number(c[8]),
    c[9],
    c[10],
    c[11],
  ]);
}

/** Every row of the real data, oldest first; empty (with a warning naming `who`) when the folder is absent. */
export function loadRealKlines(who: string): BinanceKlineRow[] {
  if (!HAVE_REAL_KLINES) {
    console.warn(`${who}: real kline data not found at ${REAL_KLINES_DIR}; its tests are skipped`);
    return [];
  }
  return readdirSync(REAL_KLINES_DIR)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .flatMap((f) =>
      readFileSync(`${REAL_KLINES_DIR}${f}`, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(csvLineToRow),
    );
}

/**
 * The kline stream event Binance sends for the candle of `row`, laid out byte for byte as its
 * stream sends it (keys in its order, the row's decimal strings): the final one (`x: true`) one
 * millisecond after the close, unless `open` gives an update's event time. The archive has no trade
 * ids; `firstTradeId` stands in for them.
 */
export function klineFrameOf(
  row: BinanceKlineRow,
  symbol: string,
  interval: string,
  firstTradeId: number,
  open?: { readonly eventTimeMs: number },
): string {
  const [t, o, h, l, c, v, T, q, n, V, Q, B] = row;
  const E = open ? open.eventTimeMs : T + 1;
  const L = n > 0 ? firstTradeId + n - 1 : -1;
  const f = n > 0 ? firstTradeId : -1;
  return (
    `{"e":"kline","E":${E},"s":"${symbol}","k":{"t":${t},"T":${T},"s":"${symbol}","i":"${interval}",` +
    `"f":${f},"L":${L},"o":"${o}","c":"${c}","h":"${h}","l":"${l}","v":"${v}","n":${n},"x":${!open},` +
    `"q":"${q}","V":"${V}","Q":"${Q}","B":"${B}"}}`
  );
}
