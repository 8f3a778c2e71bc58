/**
 * Market time. With a scaled clock it runs at `speed` times wall time from `startMs`; a manual
 * clock moves only when told, so tests are fast and exact. Pausing freezes market time: the
 * market is a function of market time, so a pause means nothing trades until it resumes.
 */
export interface SimClock {
  readonly kind: 'scaled' | 'manual';
  /** Current market time in ms (integer, never decreases). */
  nowMs(): number;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
}

export class ScaledClock implements SimClock {
  readonly kind = 'scaled';
  private baseMarketMs: number;
  private baseWallMs: number;
  private pausedAt: number | null = null;

  constructor(
    startMs: number,
    readonly speed: number,
    private readonly wallNowMs: () => number = () => performance.now(),
  ) {
    if (!(speed > 0)) throw new RangeError(`speed must be positive, got ${speed}`);
    this.baseMarketMs = startMs;
    this.baseWallMs = wallNowMs();
  }

  get paused(): boolean {
    return this.pausedAt !== null;
  }

  nowMs(): number {
    if (this.pausedAt !== null) return this.pausedAt;
    return Math.floor(this.baseMarketMs + (this.wallNowMs() - this.baseWallMs) * this.speed);
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

export class ManualClock implements SimClock {
  readonly kind = 'manual';
  private current: number;
  private frozen = false;

  constructor(startMs: number) {
    this.current = startMs;
  }

  get paused(): boolean {
    return this.frozen;
  }

  nowMs(): number {
    return this.current;
  }

  /** Moves market time forward; ignored while paused, as a paused market does not move. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot move market time backwards (${ms} ms)`);
    if (!this.frozen) this.current += Math.floor(ms);
  }

  pause(): void {
    this.frozen = true;
  }

  resume(): void {
    this.frozen = false;
  }
}
