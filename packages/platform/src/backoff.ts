export interface BackoffOptions {
  /** First delay, before jitter. */
  readonly initialMs?: number;
  /** Upper bound of any delay. */
  readonly maxMs?: number;
  readonly factor?: number;
  /** Fraction of the delay that is randomised: 0 = none, 1 = "full jitter". */
  readonly jitter?: number;
  /** Source of randomness in [0, 1), injectable for tests. */
  readonly random?: () => number;
}

/**
 * Capped exponential backoff with jitter: the n-th delay is drawn from
 * [d·(1−jitter), d] with d = min(maxMs, initialMs·factorⁿ). Jitter spreads reconnect storms.
 */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.5;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs) || !(this.factor >= 1)) {
      throw new RangeError('Backoff needs 0 < initialMs <= maxMs and factor >= 1');
    }
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new RangeError('Backoff jitter must be within [0, 1]');
  }

  /** Number of delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
