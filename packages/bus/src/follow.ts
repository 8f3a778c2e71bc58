import { SlowConsumerError } from './bus-errors.js';
import type { MarketBus, SubscribeOptions } from './market-bus.js';
import type { MarketEvent } from './market-event.js';

export interface FollowOptions extends Omit<SubscribeOptions, 'signal' | 'fromSeq' | 'sinceOpenTimeMs'> {
  /** Stops following. */
  readonly signal: AbortSignal;
  /**
   * Called when the subscription was cut off for falling behind, before it is taken up again
   * (live): what was published meanwhile is lost to this follower, which may need to say so.
   */
  readonly onCutOff?: (error: SlowConsumerError) => void;
  /** Called when the subscription fails for another reason; following stops. */
  readonly onError?: (error: unknown) => void;
}

/**
 * Feeds every live event of a subscription to `handle`, for an in-process consumer that keeps
 * state or fans out itself (health counters, a WebSocket edge serving many clients from one
 * subscription). Resolves when `signal` aborts. `handle` runs synchronously per event and must
 * not throw.
 */
export async function follow(
  bus: MarketBus,
  options: FollowOptions,
  handle: (event: MarketEvent) => void,
): Promise<void> {
  const { onCutOff, onError, ...subscribe } = options;
  while (!options.signal.aborted) {
    try {
      for await (const event of bus.subscribe(subscribe)) handle(event);
      return;
    } catch (err) {
      if (!(err instanceof SlowConsumerError)) {
        onError?.(err);
        return;
      }
      onCutOff?.(err);
    }
  }
}
