import { describe, expect, it } from 'vitest';
import { partialKline } from './kline-phases.js';
import { KlineSeries, parseKlineFile } from './kline-series.js';
import { ReplayFileError } from './replay-error.js';
import { type ParsedFileName, parseReplayFileName, type ReplayFile } from './replay-files.js';
import { type CsvOptions, klineCsv, klineRowsFromTrades, makeTrades } from './replay-fixtures.js';

const DAY = Date.UTC(2025, 0, 1);
const NAME = 'ETHUSDT-1m-2025-01-01.csv';
const file: ReplayFile = {
  ...(parseReplayFileName(NAME) as ParsedFileName),
  path: `/data/${NAME}`,
  name: NAME,
};
const rows = klineRowsFromTrades(makeTrades(DAY, 30), '1m', DAY, DAY + 30 * 60_000);

function parse(csv: string) {
  return parseKlineFile(Buffer.from(csv), file, NAME);
}

function series(csv: string): KlineSeries {
  return KlineSeries.join('ETHUSDT', '1m', [parse(csv)]);
}

describe('parseKlineFile', () => {
  it.each<[string, CsvOptions]>([
    ['milliseconds, no header', {}],
    ['microseconds, header', { micro: true, header: true }],
    ['CRLF line ends', { lineEnd: '\r\n' }],
  ])('reads every row exactly (%s)', (_case, options) => {
    const s = series(klineCsv(rows, options));
    expect(s.length).toBe(30);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as string[];
      expect([s.openTimeMs(i), ...Object.values(s.values(i)), s.closeTimeMs(i), s.trades(i)]).toEqual([
        Number(r[0]),
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[7],
        r[9],
        r[10],
        Number(r[6]),
        Number(r[8]),
      ]);
    }
    expect(parse(klineCsv(rows, options)).microseconds).toBe(options.micro === true);
  });

  it('learns the decimals prices and volumes use', () => {
    expect(parse(klineCsv(rows)).decimals).toEqual({ price: 2, quantity: 4 });
  });

  const bad = (index: number, field: number, value: string): string => {
    const copy = rows.map((r) => [...r]);
    (copy[index] as string[])[field] = value;
    return klineCsv(copy);
  };
  it.each([
    [
      'too few columns',
      klineCsv([rows[0] as string[], (rows[1] as string[]).slice(0, 11)]),
      2,
      '11 columns, expected 12',
    ],
    ['a time that is not a number', bad(2, 0, '2025-01-01'), 3, 'open_time "2025-01-01" is not an integer'],
    ['an open time off the grid', bad(1, 0, String(DAY + 61_000)), 2, 'is not the start of a 1m candle'],
    ['a close time that does not match', bad(1, 6, String(DAY + 60_000 + 59_998)), 2, 'close_time'],
    [
      'a row outside the day',
      klineCsv([
        [
          String(DAY - 60_000),
          ...(rows[0] as string[]).slice(1, 6),
          String(DAY - 1),
          ...(rows[0] as string[]).slice(7),
        ],
      ]),
      1,
      "is outside the file's period",
    ],
    [
      'a repeated row',
      klineCsv([rows[0] as string[], rows[0] as string[]]),
      2,
      'is not after the previous row',
    ],
    ['a negative price', bad(3, 1, '-1.00000000'), 4, 'open "-1.00000000" is not a non-negative decimal'],
    ['more than 8 decimals', bad(3, 5, '1.000000001'), 4, 'volume "1.000000001"'],
    ['a price in exponent form', bad(3, 4, '1e3'), 4, 'close "1e3"'],
    ['low above high', bad(4, 3, '999999.00000000'), 5, 'low 999999.00000000 is above high'],
    ['open above high', bad(4, 1, '999999.00000000'), 5, 'open 999999.00000000 is outside low'],
    ['taker volume above volume', bad(5, 9, '999999.00000000'), 6, 'taker buy volume'],
    ['a fractional trade count', bad(6, 8, '1.5'), 7, 'number_of_trades "1.5"'],
    ['a header with the wrong columns', `open_time,open\n${klineCsv(rows)}`, 1, 'header row has 2 columns'],
  ])('rejects %s, naming the file and line', (_case, csv, line, message) => {
    let error: unknown;
    try {
      parse(csv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ReplayFileError);
    expect(error).toMatchObject({ file: NAME, line });
    expect((error as Error).message).toContain(`${NAME} line ${line}: `);
    expect((error as Error).message).toContain(message);
  });

  it('rejects rows switching from milliseconds to microseconds', () => {
    const mixed = `${klineCsv(rows.slice(0, 2))}${klineCsv(rows.slice(2, 3), { micro: true })}`;
    expect(() => parse(mixed)).toThrow(
      `${NAME} line 3: open_time ${Number(rows[2]?.[0]) * 1000} is in microseconds`,
    );
  });
});

describe('KlineSeries', () => {
  it('joins files in order, finds rows by open time, and refuses files out of order', () => {
    const next: ReplayFile = { ...file, name: 'next.csv', periodStartMs: DAY, periodEndMs: DAY + 86_400_000 };
    const first = parseKlineFile(Buffer.from(klineCsv(rows.slice(0, 10))), file, NAME);
    const second = parseKlineFile(Buffer.from(klineCsv(rows.slice(20))), next, 'next.csv');
    const joined = KlineSeries.join('ETHUSDT', '1m', [first, second]);
    expect(joined.length).toBe(20);
    expect(joined.indexOf(DAY + 20 * 60_000)).toBe(10);
    expect(joined.indexOf(DAY + 15 * 60_000)).toBe(-1); // a hole in the history
    expect(joined.lowerBound(DAY + 15 * 60_000)).toBe(10);
    expect(() => KlineSeries.join('ETHUSDT', '1m', [second, first])).toThrow(
      /is not after the last one of next\.csv/,
    );
  });
});

describe('partialKline', () => {
  const s = series(
    klineCsv([
      [
        '1735689600000',
        '100.00000000',
        '110.00000000',
        '90.00000000',
        '105.00000000',
        '8.00000000',
        '1735689659999',
        '800.00000000',
        '8',
        '4.00000000',
        '400.00000000',
        '0',
      ],
    ]),
  );
  const at = (ms: number) => partialKline(s, 0, DAY + ms);

  it('walks a rising candle open, low, high, close in quarters, volumes growing to 3/4', () => {
    expect(
      [at(2_000), at(16_000), at(32_000), at(46_000)].map((p) => [
        p.values.open,
        p.values.high,
        p.values.low,
        p.values.close,
        p.values.volume,
        p.trades,
      ]),
    ).toEqual([
      ['100.00000000', '100.00000000', '100.00000000', '100.00000000', '0.00000000', 0],
      ['100.00000000', '100.00000000', '90.00000000', '90.00000000', '2.00000000', 2],
      ['100.00000000', '110.00000000', '90.00000000', '110.00000000', '4.00000000', 4],
      ['100.00000000', '110.00000000', '90.00000000', '105.00000000', '6.00000000', 6],
    ]);
    expect(at(60_000).values.quoteVolume).toBe('600.00000000');
  });

  it('walks a falling candle to the high first', () => {
    const falling = series(
      klineCsv([
        [
          '1735689600000',
          '100.00000000',
          '110.00000000',
          '90.00000000',
          '95.00000000',
          '1.00000000',
          '1735689659999',
          '3.00000000',
          '3',
          '0.00000000',
          '0.00000000',
          '0',
        ],
      ]),
    );
    const p = (ms: number) => partialKline(falling, 0, DAY + ms).values;
    expect([p(20_000).high, p(20_000).low, p(20_000).close, p(40_000).close]).toEqual([
      '110.00000000',
      '100.00000000',
      '110.00000000',
      '90.00000000',
    ]);
    expect(partialKline(falling, 0, DAY + 20_000).values.quoteVolume).toBe('0.75000000');
    expect(partialKline(falling, 0, DAY + 20_000).trades).toBe(0);
  });
});
