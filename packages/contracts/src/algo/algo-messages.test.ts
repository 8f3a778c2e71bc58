import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  algoClientMessageSchema,
  algoServerMessageSchema,
  indicatorHistoryResponseSchema,
  indicatorMessageSchema,
} from './algo-messages.js';

const DOC = join(dirname(fileURLToPath(import.meta.url)), '../../../../docs/trading-algo.md');
const httpErrorSchema = z.strictObject({ error: z.string(), streams: z.array(z.string()) });

function jsonBlocks(markdown: string): unknown[] {
  return [...markdown.matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => JSON.parse(m[1] ?? ''));
}

function schemaFor(value: unknown): z.ZodType {
  if (typeof value !== 'object' || value === null) throw new Error('examples are objects');
  if ('type' in value) return algoServerMessageSchema;
  if ('op' in value) return algoClientMessageSchema;
  if ('error' in value) return httpErrorSchema;
  return indicatorHistoryResponseSchema;
}

const point = {
  openTimeMs: 1709513160000,
  closeTimeMs: 1709513219999,
  final: true,
  open: 100,
  high: 100,
  low: 95.8,
  close: 96,
  volume: 10,
  ema: 99.2,
  vwap: 100,
  vwapBands: { '1': [99.4, 100.6] },
  atr: 1.38,
  stretch: -2.33,
  signal: 'oversold',
  vwapFromMs: 1709510400000,
  vwapPartial: false,
  converged: true,
};
const indicator = {
  type: 'indicator',
  stream: 'btcusdt@kline_1m',
  exchange: 'binance-sim',
  symbol: 'BTCUSDT',
  interval: '1m',
  ...point,
};

describe('trading-algo message schemas', () => {
  it('accept every JSON example in docs/trading-algo.md', () => {
    const blocks = jsonBlocks(readFileSync(DOC, 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(12);
    for (const block of blocks) {
      const result = schemaFor(block).safeParse(block);
      expect(result.success, JSON.stringify(block).slice(0, 120)).toBe(true);
    }
  });

  it('accept nulls while indicators warm up and reject what a client could not use', () => {
    const warming = {
      ...indicator,
      ema: null,
      vwap: null,
      vwapBands: null,
      atr: null,
      stretch: null,
      signal: 'none',
      vwapFromMs: null,
    };
    expect(indicatorMessageSchema.safeParse(warming).success).toBe(true);
    const bad = [
      { ...indicator, ema: Number.NaN },
      { ...indicator, atr: Number.POSITIVE_INFINITY },
      { ...indicator, signal: 'buy' },
      { ...indicator, exchange: 'kraken' },
      { ...indicator, interval: '7m' },
      { ...indicator, vwapBands: { one: [1, 2] } },
      { ...indicator, vwapBands: { '1': [1] } },
      { ...indicator, extra: 1 },
      { ...indicator, openTimeMs: -1 },
      { ...indicator, vwapPartial: undefined },
      { ...indicator, converged: 'yes' },
    ];
    for (const b of bad)
      expect(indicatorMessageSchema.safeParse(b).success, JSON.stringify(b).slice(-60)).toBe(false);
  });

  it('accept subscribe and unsubscribe requests only', () => {
    expect(
      algoClientMessageSchema.safeParse({ op: 'subscribe', streams: ['btcusdt@kline_1m'] }).success,
    ).toBe(true);
    for (const b of [
      { op: 'subscribe', streams: [] },
      { op: 'subscribe' },
      { op: 'ping' },
      { op: 'unsubscribe', streams: [42] },
      { op: 'subscribe', streams: ['a'], extra: true },
    ]) {
      expect(algoClientMessageSchema.safeParse(b).success, JSON.stringify(b)).toBe(false);
    }
  });
});
