import { EventEmitter } from 'node:events';
import { type ServerWritableStream, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { BoundedWriter } from './bounded-writer.js';

/** A server stream whose transport accepts `window` writes, then applies backpressure until drained. */
class FakeCall extends EventEmitter {
  readonly written: number[] = [];
  readonly errors: { code: number; details: string }[] = [];
  cancelled = false;
  ended = false;
  constructor(public window: number) {
    super();
    this.on('error', (e: { code: number; details: string }) => this.errors.push(e));
  }
  write(message: number): boolean {
    this.written.push(message);
    return this.written.length < this.window;
  }
  end(): void {
    this.ended = true;
  }
  /** The transport took everything: more may be written. */
  drain(window: number): void {
    this.window = this.written.length + window;
    this.emit('drain');
  }
}

function writer(maxQueued: number, window = 1) {
  const call = new FakeCall(window);
  let overflows = 0;
  const w = new BoundedWriter<number>(call as unknown as ServerWritableStream<unknown, number>, {
    maxQueued,
    onOverflow: () => overflows++,
  });
  return { call, w, overflows: () => overflows };
}

describe('BoundedWriter', () => {
  it('queues exactly maxQueued live messages behind a stalled transport, and cuts off at the next', () => {
    // Mutation guard: a bound multiplied by 4 would let message 11 through.
    const { call, w, overflows } = writer(10);
    expect(w.push(0)).toBe(true); // written; the transport is now full
    for (let i = 1; i <= 10; i++) expect(w.push(i)).toBe(true);
    expect(w.queued).toBe(10);
    expect(call.errors).toEqual([]);
    expect(w.push(11)).toBe(false);
    expect(call.errors).toEqual([
      { code: status.RESOURCE_EXHAUSTED, details: 'client too slow: more than 10 messages queued' },
    ]);
    expect(overflows()).toBe(1);
    expect(w.isClosed).toBe(true);
    expect(w.push(12)).toBe(false);
    expect(overflows()).toBe(1);
  });

  it('does not count replayed history against the live bound', () => {
    // Mutation guard: counting the replay would cut this client off at its first live message.
    const { call, w, overflows } = writer(10);
    w.replay(Array.from({ length: 5_000 }, (_, i) => -i - 1));
    expect(w.queued).toBe(4_999);
    for (let i = 0; i < 10; i++) expect(w.push(i)).toBe(true);
    expect(call.errors).toEqual([]);
    expect(w.push(10)).toBe(false);
    expect(call.errors[0]?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(overflows()).toBe(1);
  });

  it('counts the replay left unsent as replay while live messages follow it', () => {
    const { call, w } = writer(10);
    w.replay([-3, -2, -1]);
    for (let i = 0; i < 10; i++) expect(w.push(i)).toBe(true);
    call.drain(2); // two replayed messages go out; the live ones still wait
    expect(w.queued).toBe(10);
    expect(w.push(10)).toBe(false); // 11 live messages would be queued: over the bound
  });

  it('writes everything in order once the transport drains, and never cuts a client that keeps up', () => {
    const { call, w, overflows } = writer(10);
    w.replay([-2, -1]);
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 10; i++) expect(w.push(round * 10 + i)).toBe(true);
      call.drain(100);
    }
    expect(call.written).toEqual([-2, -1, ...Array.from({ length: 1_000 }, (_, i) => i)]);
    expect(overflows()).toBe(0);
    expect(call.errors).toEqual([]);
  });
});
