import { describe, expect, it } from 'vitest';
import { type FeedStatus, statusEvent } from '../market-event.js';
import { StatusMerge } from './status-merge.js';

const STREAM = 'btcusdt@kline_1m';

function merge(alive: Set<string> = new Set()) {
  const clock = { now: 1_000_000 };
  const m = new StatusMerge(STREAM, {
    sourceAlive: (s) => alive.has(s),
    heardWithinMs: 15_000,
    now: () => clock.now,
  });
  const feed = (source: string, kind: FeedStatus['kind'], extra: Partial<FeedStatus> = {}) =>
    m.accept(statusEvent(STREAM, { kind, source, timeMs: clock.now, ...extra }))?.status.kind ?? null;
  return { m, clock, feed };
}

describe('StatusMerge: one feed status from several producers of a stream', () => {
  it('delivers one connected for two owners connecting, and nothing while one of them carries on', () => {
    const { feed } = merge();
    expect(feed('data-ingest-0', 'connected')).toBe('connected');
    expect(feed('data-ingest-1', 'connected')).toBeNull();
    expect(feed('data-ingest-0', 'disconnected')).toBeNull();
    expect(feed('data-ingest-1', 'disconnected')).toBe('disconnected');
    expect(feed('data-ingest-1', 'disconnected')).toBeNull();
    expect(feed('data-ingest-0', 'connected')).toBe('connected');
  });

  it('delivers each gap report once, whichever owner reports it first', () => {
    const { feed } = merge();
    const gap = { fromOpenTimeMs: 60_000, toOpenTimeMs: 120_000 };
    expect(feed('data-ingest-0', 'gap-detected', gap)).toBe('gap-detected');
    expect(feed('data-ingest-1', 'gap-detected', gap)).toBeNull();
    expect(feed('data-ingest-1', 'gap-filled', gap)).toBe('gap-filled');
    expect(feed('data-ingest-0', 'gap-filled', gap)).toBeNull();
    expect(feed('data-ingest-0', 'gap-detected', { fromOpenTimeMs: 180_000, toOpenTimeMs: 180_000 })).toBe(
      'gap-detected',
    );
  });

  it('says disconnected for a connected owner that went silent and stopped reporting, once no other is connected', () => {
    const alive = new Set(['data-ingest-0', 'data-ingest-1']);
    const { m, clock, feed } = merge(alive);
    expect(feed('data-ingest-0', 'connected')).toBe('connected');
    expect(feed('data-ingest-1', 'connected')).toBeNull();
    clock.now += 60_000;
    alive.delete('data-ingest-0'); // killed: its registry report lapsed
    expect(m.review()).toBeNull(); // the other still reports
    alive.delete('data-ingest-1');
    expect(m.review()?.status.kind).toBe('disconnected');
    expect(m.review()).toBeNull();
    expect(feed('data-ingest-1', 'connected')).toBe('connected');
  });

  it('keeps a producer heard from recently, before its first registry report', () => {
    const { m, clock, feed } = merge();
    expect(feed('data-ingest-0', 'connected')).toBe('connected');
    clock.now += 14_000;
    expect(m.review()).toBeNull();
    clock.now += 2_000;
    expect(m.review()?.status.kind).toBe('disconnected');
  });
});
