import type { MarketEvent } from './market-event.js';

/**
 * One encoding of bus events for one wire (protobuf bytes for gRPC, Binance JSON text for
 * WebSocket), computed on first use and then shared: a bus hands every subscriber the same event
 * object, so an event is encoded once per wire form however many clients receive it.
 *
 * The encoding is kept on the event itself, under a symbol private to this form: invisible to the
 * event's type and to JSON, and gone with the event. (A `WeakMap` per form did the same, but its
 * entries for millions of short-lived events made every young-generation collection slower.)
 */
export class WireForm<E extends MarketEvent, T> {
  private readonly key: symbol;

  constructor(
    /** What the encoding is, for readers and debugging. */
    readonly name: string,
    private readonly encode: (event: E) => T,
  ) {
    this.key = Symbol(name);
  }

  of(event: E): T {
    const slots = event as unknown as Record<symbol, T | undefined>;
    let value = slots[this.key];
    if (value === undefined) {
      value = this.encode(event);
      slots[this.key] = value;
    }
    return value;
  }
}
