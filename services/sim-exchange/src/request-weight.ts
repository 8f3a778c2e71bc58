/**
 * Binance's per-IP request-weight limiter: weight accumulates in fixed one-minute windows
 * aligned to the clock; past the limit requests get 429 with Retry-After (seconds to the next
 * window); an IP that keeps sending after being told is banned (418) for a while.
 */
export interface RequestWeightOptions {
  readonly limitPerMinute: number;
  /** 429 answers within one window after which the IP is banned. */
  readonly banAfterRejections: number;
  readonly banMs: number;
  readonly wallNowMs?: () => number;
}

export type WeightDecision =
  | { readonly kind: 'ok'; readonly used: number }
  | { readonly kind: 'limited'; readonly used: number; readonly retryAfterSec: number }
  | {
      readonly kind: 'banned';
      readonly used: number;
      readonly retryAfterSec: number;
      readonly untilMs: number;
    };

interface IpState {
  windowStartMs: number;
  used: number;
  rejections: number;
  bannedUntilMs: number;
}

const WINDOW_MS = 60_000;

export class RequestWeight {
  private readonly ips = new Map<string, IpState>();
  private readonly now: () => number;

  constructor(private readonly options: RequestWeightOptions) {
    this.now = options.wallNowMs ?? Date.now;
  }

  get limitPerMinute(): number {
    return this.options.limitPerMinute;
  }

  /** Weight used by `ip` in the current window. */
  used(ip: string): number {
    const state = this.state(ip);
    return state.used;
  }

  charge(ip: string, weight: number): WeightDecision {
    const now = this.now();
    const state = this.state(ip);
    if (state.bannedUntilMs > now) {
      return {
        kind: 'banned',
        used: state.used,
        retryAfterSec: secondsUntil(state.bannedUntilMs, now),
        untilMs: state.bannedUntilMs,
      };
    }
    state.used += weight;
    if (state.used <= this.options.limitPerMinute) return { kind: 'ok', used: state.used };
    state.rejections++;
    if (state.rejections > this.options.banAfterRejections) {
      state.bannedUntilMs = now + this.options.banMs;
      return {
        kind: 'banned',
        used: state.used,
        retryAfterSec: secondsUntil(state.bannedUntilMs, now),
        untilMs: state.bannedUntilMs,
      };
    }
    return {
      kind: 'limited',
      used: state.used,
      retryAfterSec: secondsUntil(state.windowStartMs + WINDOW_MS, now),
    };
  }

  reset(): void {
    this.ips.clear();
  }

  private state(ip: string): IpState {
    const now = this.now();
    const windowStartMs = now - (now % WINDOW_MS);
    let state = this.ips.get(ip);
    if (!state) {
      state = { windowStartMs, used: 0, rejections: 0, bannedUntilMs: 0 };
      this.ips.set(ip, state);
    } else if (state.windowStartMs !== windowStartMs) {
      state.windowStartMs = windowStartMs;
      state.used = 0;
      state.rejections = 0;
    }
    return state;
  }
}

function secondsUntil(targetMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((targetMs - nowMs) / 1_000));
}
