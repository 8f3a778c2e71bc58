/** Domain benchmarks: indicator updates and the candle book, against floors measured in the same run. */
import { CandleBook, IndicatorSet } from '@visualgo/market';
import { PointColumns } from '../services/trading-algo/src/engine/point-columns.js';
import { candleSeries } from './candle-series.js';
import { type Check, heapUsed, measure } from './harness.js';

const SERIES = { exchange: 'binance-sim', symbol: 'BTCUSDT', interval: '1m' } as const;

export function domainBenchmarks(): { table: Record<string, number>; checks: Check[] } {
  const N = 100_000;
  const series = candleSeries(N);
  let sink = 0;

  // Floor: the least any per-candle computation costs, touching each candle once.
  const floor = measure('floor: read each candle', N * 10, () => {
    let s = 0;
    for (let r = 0; r < 10; r++) for (const c of series) s += c.close + c.volume;
    sink += s;
  });

  const add = measure('IndicatorSet.addClosed', N, () => {
    const set = new IndicatorSet();
    for (const c of series) set.addClosed(c);
    sink += set.closedCount;
  });

  const warm = new IndicatorSet();
  for (const c of series.slice(0, 1_000)) warm.addClosed(c);
  const next = series[1_000];
  if (!next) throw new Error('series too short');
  const open = { ...next, closed: false };
  const preview = measure('IndicatorSet.previewOpen', N, () => {
    for (let i = 0; i < N; i++) {
      const p = warm.previewOpen(open);
      if (p.type === 'indicator-point' && p.ema !== null) sink += p.ema;
    }
  });

  // The seed recomputed EMA(9) over the whole history on every candle: O(history) per update.
  // 10 000 candles is one week of 1m candles.
  const HISTORY = 10_000;
  const closes = series.slice(0, HISTORY).map((c) => c.close);
  const seedStyle = measure('seed-style EMA recompute over 10000 candles', 200, () => {
    for (let r = 0; r < 200; r++) {
      const k = 2 / 10;
      let e = closes.slice(0, 9).reduce((a, b) => a + b, 0) / 9;
      for (let i = 9; i < closes.length; i++) e = ((closes[i] ?? 0) - e) * k + e;
      sink += e;
    }
  });

  const arrayFloor = measure('floor: push to a bounded array', N * 10, () => {
    for (let r = 0; r < 10; r++) {
      const a: unknown[] = [];
      for (const c of series) {
        a.push(c);
        if (a.length > 2_000) a.splice(0, 1_000);
      }
      sink += a.length;
    }
  });
  const book = measure('CandleBook.offer (closed, in order)', N, () => {
    const b = new CandleBook(SERIES, 1_000);
    b.anchor([]);
    for (const c of series) b.offer(c);
    sink += b.size;
  });

  // Memory: a book holds at most 2x capacity candles, however long it runs. Each book gets its
  // own candle objects, as it would from the wire, so what it retains shows in the heap.
  const before = heapUsed();
  const books = Array.from({ length: 20 }, () => new CandleBook(SERIES, 1_000));
  for (const b of books) b.anchor([]);
  const feed = (from: number, to: number) => {
    for (const c of series.slice(from, to)) for (const b of books) b.offer({ ...c });
  };
  feed(0, 2_000);
  const after2k = heapUsed() - before;
  feed(2_000, N);
  const after100k = heapUsed() - before;
  books.length = 0;

  // Bytes a held candle costs: a book holding 50 000 candles, each arriving as its own object from
  // the wire, against the same candles kept as objects (how history was held before).
  const HELD = 50_000;
  const heldBase = heapUsed();
  const held = new CandleBook(SERIES, HELD);
  held.anchor([]);
  for (const c of series.slice(0, HELD)) held.offer({ ...c });
  const columnBytes = (heapUsed() - heldBase) / HELD;
  const objectBase = heapUsed();
  const objects = series.slice(0, HELD).map((c) => ({ ...c }));
  const objectBytes = (heapUsed() - objectBase) / HELD;
  sink += held.size + objects.length;
  objects.length = 0;

  // Bytes a kept indicator point costs in trading-algo, against the point objects it sends. A
  // small run first, so that compiling the code does not count.
  const fillPoints = (kept: PointColumns, n: number) => {
    const set = new IndicatorSet();
    for (const c of series.slice(0, n)) {
      const p = set.addClosed(c);
      if (p.type === 'indicator-point') kept.push(c, p);
    }
  };
  fillPoints(new PointColumns('1m', [1, 2], 1_000), 5_000);
  const pointBase = heapUsed();
  const kept = new PointColumns('1m', [1, 2], HELD);
  fillPoints(kept, HELD);
  const pointBytes = (heapUsed() - pointBase) / HELD;
  const wireBase = heapUsed();
  const wire = kept.last();
  const wireBytes = (heapUsed() - wireBase) / HELD;
  sink += wire.length;
  if (sink === 42) console.log('');

  return {
    table: {
      'floor ns/candle': floor.nsPerOp,
      'IndicatorSet.addClosed ns/candle': add.nsPerOp,
      'IndicatorSet.previewOpen ns/update': preview.nsPerOp,
      'seed-style EMA recompute ns/update (10000 candles)': seedStyle.nsPerOp,
      'array floor ns/candle': arrayFloor.nsPerOp,
      'CandleBook.offer ns/candle': book.nsPerOp,
      'CandleBook heap after 2k candles x20 books (MiB)': after2k / 2 ** 20,
      'CandleBook heap after 100k candles x20 books (MiB)': after100k / 2 ** 20,
      'held candle, columns (bytes/candle)': columnBytes,
      'held candle, Candle objects (bytes/candle)': objectBytes,
      'kept point, columns (bytes/point)': pointBytes,
      'kept point, point objects (bytes/point)': wireBytes,
    },
    checks: [
      {
        name: 'indicator update is O(1) and cheap',
        ratio: add.nsPerOp / floor.nsPerOp,
        limit: 150,
        detail: 'IndicatorSet.addClosed / floor loop',
      },
      {
        name: 'open-candle preview is cheap',
        ratio: preview.nsPerOp / floor.nsPerOp,
        limit: 150,
        detail: 'IndicatorSet.previewOpen / floor loop',
      },
      {
        name: 'streaming beats the seed recomputation',
        ratio: seedStyle.nsPerOp / add.nsPerOp,
        limit: 5,
        atLeast: true,
        detail: 'seed-style recompute (10000 candles) / IndicatorSet.addClosed',
      },
      {
        name: 'candle book stays near array cost',
        ratio: book.nsPerOp / arrayFloor.nsPerOp,
        limit: 40,
        detail: 'CandleBook.offer / bounded array push',
      },
      {
        name: 'candle book memory is bounded',
        ratio: after100k / Math.max(after2k, 1),
        limit: 1.5,
        detail: 'heap after 100k candles / after 2k, 20 books of capacity 1000',
      },
      {
        name: 'a held candle costs at most 100 bytes',
        ratio: held.byteLength / held.size,
        limit: 100,
        detail: 'bytes of columns per candle of a CandleBook holding 50 000',
      },
      {
        name: 'held candles cost a fraction of objects',
        ratio: columnBytes / objectBytes,
        limit: 0.5,
        detail: 'heap per held candle / heap per Candle object (readings vary by about 10%)',
      },
      {
        name: 'a kept point costs at most 100 bytes',
        ratio: kept.byteLength / kept.size,
        limit: 100,
        detail: 'bytes of columns per point of trading-algo history holding 50 000',
      },
      {
        name: 'kept points cost a fraction of point objects',
        ratio: pointBytes / wireBytes,
        limit: 0.5,
        detail: 'heap per kept point / heap per point object sent to clients',
      },
    ],
  };
}
