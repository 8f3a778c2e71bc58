import type { MarketEvent } from './market-event.js';

/**
 * One encoding of bus events for one wire (protobuf bytes for gRPC, Binance JSON text for
 * WebSocket), computed on first use and then shared: a bus hands every subscriber the same event
 * object, so an event is encoded once per wire form however many clients receive it. The cache is
 * weak: it lives exactly as long as the event.
 */
export class WireForm<E extends MarketEvent, T> {
  private readonly cache = new WeakMap<E, T>();

  constructor(
    /** What the encoding is, for readers and debugging. */
    readonly name: string,
    private readonly encode: (event: E) => T,
  ) {}

  of(event: E): T {
    let value = this.cache.get(event);
    if (value === undefined) {
      value = this.encode(event);
      this.cache.set(event, value);
    }
    return value;
  }
}
