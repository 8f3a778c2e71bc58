import type { ServerWritableStream, status } from '@grpc/grpc-js';
import type { MarketEvent } from '@visualgo/bus';

/**
 * One server-streaming call as the bus's consumer: messages are written while the transport takes
 * them, and while it applies backpressure the call simply stops reading its subscription, whose
 * bounded queue (the bus's) then fills; the slow client is cut off there, and the publisher and the
 * other clients never wait. Its `signal` ends the subscription when the call ends for any reason.
 */
export class StreamCall {
  private readonly abort = new AbortController();
  private drained: (() => void) | null = null;

  constructor(private readonly call: ServerWritableStream<unknown, Buffer>) {
    call.on('drain', () => this.wake());
    for (const event of ['cancelled', 'close', 'finish', 'error']) call.on(event, () => this.stop());
  }

  /** Aborted once the call has ended: pass it to the subscription. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get isClosed(): boolean {
    return this.abort.signal.aborted || this.call.cancelled;
  }

  /** Writes one message; the promise, when there is one, resolves once the transport takes more. */
  write(message: Buffer): Promise<void> | undefined {
    if (this.isClosed || this.call.write(message)) return undefined;
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  /**
   * Writes every event `encode` gives bytes for, in order, until the subscription ends (the call
   * ended, or the subscription was aborted) or fails; a failure (`SlowConsumerError` included) ends
   * the call with the status `failure` gives it.
   */
  async pump(
    events: AsyncIterable<MarketEvent>,
    encode: (event: MarketEvent) => Buffer | null,
    failure: (err: unknown) => { code: status; details: string },
  ): Promise<void> {
    try {
      for await (const event of events) {
        const bytes = encode(event);
        if (bytes === null) continue;
        const pending = this.write(bytes);
        if (pending) await pending;
        if (this.isClosed) break;
      }
    } catch (err) {
      if (this.isClosed) return;
      const { code, details } = failure(err);
      this.fail(code, details);
    }
  }

  /** Ends the call with a status. */
  fail(code: status, details: string): void {
    if (this.isClosed) return;
    this.stop();
    this.call.emit('error', { code, details });
  }

  end(): void {
    if (this.isClosed) return;
    this.stop();
    this.call.end();
  }

  private stop(): void {
    this.abort.abort();
    this.wake();
  }

  private wake(): void {
    const drained = this.drained;
    this.drained = null;
    drained?.();
  }
}
