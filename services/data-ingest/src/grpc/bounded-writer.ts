import { type ServerWritableStream, status } from '@grpc/grpc-js';

export interface BoundedWriterOptions {
  /** Live messages that may wait for a slow client before it is cut off. */
  readonly maxQueued: number;
  /** Called once when the client is cut off for being too slow. */
  readonly onOverflow?: () => void;
}

/**
 * Writes to one server stream without ever blocking the publisher: messages wait in a bounded
 * queue while the transport applies backpressure; when the queue overflows, the stream ends
 * with RESOURCE_EXHAUSTED so one slow consumer cannot hold memory or delay the others.
 * Replayed history is allowed in addition to the live bound.
 */
export class BoundedWriter<T> {
  private readonly queue: T[] = [];
  private head = 0;
  private replayOutstanding = 0;
  private waitingForDrain = false;
  private closed = false;

  constructor(
    private readonly call: ServerWritableStream<unknown, T>,
    private readonly options: BoundedWriterOptions,
  ) {
    call.on('drain', () => {
      this.waitingForDrain = false;
      this.pump();
    });
    const stop = () => {
      this.closed = true;
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
  }

  get isClosed(): boolean {
    return this.closed || this.call.cancelled;
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  /** History sent before going live; it does not count against the live bound. */
  replay(messages: readonly T[]): void {
    if (this.isClosed) return;
    for (const m of messages) this.queue.push(m);
    this.replayOutstanding += messages.length;
    this.pump();
  }

  /** Returns false when the stream is closed (now or before). */
  push(message: T): boolean {
    if (this.isClosed) return false;
    if (this.queued - this.replayOutstanding >= this.options.maxQueued) {
      this.fail(
        status.RESOURCE_EXHAUSTED,
        `client too slow: more than ${this.options.maxQueued} messages queued`,
      );
      this.options.onOverflow?.();
      return false;
    }
    this.queue.push(message);
    this.pump();
    return true;
  }

  /** Ends the stream with a status (OK ends it normally). */
  fail(code: status, details: string): void {
    if (this.isClosed) return;
    this.closed = true;
    this.queue.length = 0;
    this.head = 0;
    this.call.emit('error', { code, details });
  }

  end(): void {
    if (this.isClosed) return;
    this.closed = true;
    this.call.end();
  }

  private pump(): void {
    while (!this.waitingForDrain && !this.isClosed && this.head < this.queue.length) {
      const message = this.queue[this.head] as T;
      this.head++;
      if (this.replayOutstanding > 0) this.replayOutstanding--;
      if (!this.call.write(message)) this.waitingForDrain = true;
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
