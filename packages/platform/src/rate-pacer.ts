export interface RatePacerOptions {
  /** Attempts allowed at once, before pacing starts. */
  readonly burst: number;
  /** Attempts allowed per `perMs` after the burst. */
  readonly rate: number;
  readonly perMs: number;
  readonly now?: () => number;
}

/**
 * A token bucket handing out time slots: `reserve()` takes the next slot and says how long to wait
 * for it, so callers that reserve together are spread out in the order they asked. Over any
 * window of length W, at most `burst + rate·W/perMs` slots fall in it. Used to keep connection
 * attempts to an exchange under its per-IP limit whatever fails and retries.
 */
export class RatePacer {
  private readonly intervalMs: number;
  private readonly burstMs: number;
  private readonly now: () => number;
  /** Theoretical arrival time (GCRA): where the next slot would be if there were no burst. */
  private tat = Number.NEGATIVE_INFINITY;

  constructor(options: RatePacerOptions) {
    if (!(Number.isInteger(options.burst) && options.burst >= 1))
      throw new RangeError('burst must be an integer >= 1');
    if (!(options.rate > 0 && options.perMs > 0)) throw new RangeError('rate and perMs must be > 0');
    this.intervalMs = options.perMs / options.rate;
    this.burstMs = (options.burst - 1) * this.intervalMs;
    this.now = options.now ?? Date.now;
  }

  /** Takes the next slot; resolves to the milliseconds until it (0: now). */
  reserve(): number {
    const now = this.now();
    // The burst lets a slot come up to `burstMs` ahead of the steady schedule.
    const slot = Math.max(now, this.tat - this.burstMs);
    this.tat = Math.max(this.tat, slot) + this.intervalMs;
    return slot - now;
  }
}
