/**
 * Market time. With a scaled clock it runs at `speed` times wall time from `startMs`; a manual
 * clock moves only when told, so tests are fast and exact; a paced clock is moved by the
 * exchange itself as fast as its stream clients take the data (`speed: 'max'`). Pausing freezes
 * market time: the market is a function of market time, so a pause means nothing trades until it
 * resumes. Every clock stops at `endMs` (the end of a replay's data; default never).
 */
export type ClockKind = 'scaled' | 'manual' | 'paced';

export interface SimClock {
  readonly kind: ClockKind;
  /** Current market time in ms (integer, never decreases, never past `endMs`). */
  nowMs(): number;
  readonly endMs: number;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
}

export class ScaledClock implements SimClock {
  readonly kind = 'scaled';
  private baseMarketMs: number;
  private baseWallMs: number;
  private pausedAt: number | null = null;
  private currentSpeed: number;

  constructor(
    startMs: number,
    speed: number,
    private readonly wallNowMs: () => number = () => performance.now(),
    readonly endMs = Number.POSITIVE_INFINITY,
  ) {
    if (!(speed > 0)) throw new RangeError(`speed must be positive, got ${speed}`);
    this.currentSpeed = speed;
    this.baseMarketMs = startMs;
    this.baseWallMs = wallNowMs();
  }

  /** Market ms per wall ms. */
  get speed(): number {
    return this.currentSpeed;
  }

  /** From now on market time runs at `speed` times wall time, continuing from where it is. */
  setSpeed(speed: number): void {
    if (!(speed > 0)) throw new RangeError(`speed must be positive, got ${speed}`);
    if (this.pausedAt === null) {
      this.baseMarketMs = this.nowMs();
      this.baseWallMs = this.wallNowMs();
    }
    this.currentSpeed = speed;
  }

  /**
   * Moves market time forward by `ms` at once (a clock that jumps), then runs on at the same speed;
   * never backwards, since what was sent cannot be unsent, and never past `endMs`.
   */
  jump(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot move market time backwards (${ms} ms)`);
    if (this.pausedAt !== null) this.pausedAt = Math.min(this.pausedAt + Math.floor(ms), this.endMs);
    else this.baseMarketMs += Math.floor(ms);
  }

  get paused(): boolean {
    return this.pausedAt !== null;
  }

  nowMs(): number {
    if (this.pausedAt !== null) return this.pausedAt;
    const now = Math.floor(this.baseMarketMs + (this.wallNowMs() - this.baseWallMs) * this.currentSpeed);
    return Math.min(now, this.endMs);
  }

  pause(): void {
    if (this.pausedAt === null) this.pausedAt = this.nowMs();
  }

  resume(): void {
    if (this.pausedAt === null) return;
    this.baseMarketMs = this.pausedAt;
    this.baseWallMs = this.wallNowMs();
    this.pausedAt = null;
  }
}

/** Moved only by `advance()`: by a test (`manual`) or by the exchange's pacing loop (`paced`). */
export class ManualClock implements SimClock {
  private current: number;
  private frozen = false;

  constructor(
    startMs: number,
    readonly endMs = Number.POSITIVE_INFINITY,
    readonly kind: 'manual' | 'paced' = 'manual',
  ) {
    this.current = Math.min(startMs, endMs);
  }

  get paused(): boolean {
    return this.frozen;
  }

  nowMs(): number {
    return this.current;
  }

  /** Moves market time forward (up to `endMs`); ignored while paused, as a paused market does not move. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot move market time backwards (${ms} ms)`);
    if (!this.frozen) this.current = Math.min(this.current + Math.floor(ms), this.endMs);
  }

  pause(): void {
    this.frozen = true;
  }

  resume(): void {
    this.frozen = false;
  }
}
