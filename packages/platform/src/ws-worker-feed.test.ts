import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FeedDecoder, FeedEncoder } from './ws-worker-feed.js';

function decodeAll(chunks: readonly Buffer[]): [string, string][] {
  const out: [string, string][] = [];
  const decoder = new FeedDecoder((key, payload) => out.push([key, payload.toString('utf8')]));
  for (const c of chunks) decoder.push(c);
  expect(decoder.held).toBe(0);
  return out;
}

describe('worker feed records', () => {
  it('round-trips a tick of records encoded into one buffer', () => {
    const enc = new FeedEncoder();
    enc.add('btcusdt@trade', '{"e":"trade","p":"1.5"}');
    enc.add('ethusdt@kline_1m', Buffer.from('{"k":{}}'));
    enc.add('', '');
    enc.add('é@ü', 'ünïcode ✓');
    expect(enc.pending).toBe(4);
    const buf = enc.take();
    expect(enc.pending).toBe(0);
    expect(decodeAll([buf])).toEqual([
      ['btcusdt@trade', '{"e":"trade","p":"1.5"}'],
      ['ethusdt@kline_1m', '{"k":{}}'],
      ['', ''],
      ['é@ü', 'ünïcode ✓'],
    ]);
  });

  it('reassembles records whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 300 })), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 40 }),
        (records, cuts) => {
          const enc = new FeedEncoder();
          for (const [k, p] of records) enc.add(k, p);
          const buf = enc.take();
          const chunks: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < buf.length; i++) {
            const n = cuts[i % cuts.length] as number;
            chunks.push(buf.subarray(at, at + n));
            at += n;
          }
          expect(decodeAll(chunks)).toEqual(records);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a corrupt record instead of reading garbage', () => {
    const bad = Buffer.alloc(10);
    bad.writeUInt32BE(6, 0);
    bad.writeUInt16BE(60_000, 4);
    const decoder = new FeedDecoder(() => {});
    expect(() => decoder.push(bad)).toThrow(/corrupt feed record/);
  });

  it('refuses a key that is not a short name', () => {
    expect(() => new FeedEncoder().add('x'.repeat(2000), '')).toThrow(RangeError);
  });
});
