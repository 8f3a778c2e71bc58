import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readKlineEvent, readTradeEvent } from './binance-event-read.js';
import { binanceKlineEvent, binanceTradeEvent } from './binance-messages.js';

/** ETHUSDT frames of 2022-08-14 as Binance sends them (values from its public archive). */
const KLINE = {
  e: 'kline',
  E: 1660435231042,
  s: 'ETHUSDT',
  k: {
    t: 1660435200000,
    T: 1660435259999,
    s: 'ETHUSDT',
    i: '1m',
    f: 940123001,
    L: 940123150,
    o: '1983.55000000',
    c: '1983.01000000',
    h: '1983.90000000',
    l: '1982.60000000',
    v: '101.00410000',
    n: 150,
    x: false,
    q: '200300.11208000',
    V: '50.00000000',
    Q: '99155.50000000',
    B: '0',
  },
};
const TRADE = {
  e: 'trade',
  E: 1660435231042,
  s: 'ETHUSDT',
  t: 940123150,
  p: '1983.01000000',
  q: '0.05040000',
  T: 1660435231041,
  m: true,
  M: true,
};

/** Values a field may take: valid ones of every kind and the near misses of each. */
const anyValue = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1.5,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    '0',
    '1.',
    '.5',
    '-1',
    '1e3',
    ' 1',
    '1983.01000000',
    'ETHUSDT',
    '1m',
    true,
    false,
    null,
    [],
    {},
    'kline',
    'trade',
  ),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.stringMatching(/^\d{1,6}(\.\d{1,8})?$/),
);

/** The record with some fields replaced (or removed, or an extra one added). */
function mutated<T extends Record<string, unknown>>(base: T) {
  const keys = Object.keys(base);
  return fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom(...keys, 'extra'), fc.option(anyValue, { nil: undefined })), {
        maxLength: 3,
      }),
    )
    .map(([changes]) => {
      const out: Record<string, unknown> = { ...base };
      for (const [key, value] of changes) {
        if (value === undefined) delete out[key];
        else out[key] = value;
      }
      return out;
    });
}

/** The reader agrees with the schema: what it returns is exactly the parse (fields and order), else null. */
function agrees(
  read: (v: Record<string, unknown>) => unknown,
  schema: typeof binanceTradeEvent | typeof binanceKlineEvent,
  v: Record<string, unknown>,
) {
  const fast = read(v);
  const parsed = schema.safeParse(v);
  if (fast !== null) {
    expect(parsed.success).toBe(true);
    expect(JSON.stringify(fast)).toBe(JSON.stringify(parsed.data));
  }
  if (!parsed.success) expect(fast).toBeNull();
}

describe('readTradeEvent', () => {
  it('returns what the schema parses for a real trade, unknown fields left out', () => {
    const withExtra = { ...TRADE, X: 'MARKET' };
    expect(readTradeEvent(withExtra)).toEqual(binanceTradeEvent.parse(withExtra));
    expect(JSON.stringify(readTradeEvent(withExtra))).toBe(
      JSON.stringify(binanceTradeEvent.parse(withExtra)),
    );
  });

  it('accepts a trade only when the schema does, and then returns its parse', () => {
    fc.assert(
      fc.property(mutated(TRADE), (v) => agrees(readTradeEvent, binanceTradeEvent, v)),
      { numRuns: 3000 },
    );
  });
});

describe('readKlineEvent', () => {
  it('returns what the schema parses for a real kline event', () => {
    expect(JSON.stringify(readKlineEvent(KLINE))).toBe(JSON.stringify(binanceKlineEvent.parse(KLINE)));
  });

  it('accepts a kline event only when the schema does, and then returns its parse', () => {
    const events = fc.oneof(
      mutated(KLINE),
      mutated(KLINE.k).map((k) => ({ ...KLINE, k })),
    );
    fc.assert(
      fc.property(events, (v) => agrees(readKlineEvent, binanceKlineEvent, v)),
      { numRuns: 5000 },
    );
  });

  it('leaves nothing the schema accepts unread for the events Binance sends', () => {
    expect(readKlineEvent({ ...KLINE, k: { ...KLINE.k, x: true } })).not.toBeNull();
    expect(readTradeEvent({ ...TRADE, m: false })).not.toBeNull();
  });
});
