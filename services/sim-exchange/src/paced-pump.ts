import type { ManualClock } from './sim-clock.js';

export interface PacedPumpOptions {
  readonly clock: ManualClock;
  /** Emits everything due up to the clock's time. */
  readonly pump: () => void;
  /** Open stream connections taking data (not stalled). */
  readonly takers: () => number;
  /** Bytes the slowest unstalled reader has waiting (`StreamServer.maxBufferedBytes`). */
  readonly backlogBytes: () => number;
  /** Market ms per step. Default 1000. */
  readonly stepMs?: number;
  /** Wall ms of stepping before yielding to I/O. Default 10. */
  readonly sliceMs?: number;
  /** A reader with more than this waiting holds the market back. Default 256 KiB. */
  readonly highWaterBytes?: number;
}

/**
 * Drives a paced clock (`speed: 'max'`): market time moves in small steps as fast as the
 * stream clients take the data. It moves only while a stream connection is taking data: one is
 * open and not stalled. So a replay does not run out before its client has connected, nor while
 * its only client is cut off or stalled (that client loses nothing; with other clients taking
 * data, a stalled one loses what they get meanwhile, as on Binance). It waits whenever an
 * unstalled connection has more than `highWaterBytes` unsent, so the slowest reader sets the
 * pace instead of being cut off as a slow consumer. It yields to the event loop every
 * `sliceMs`, so REST requests and control calls are answered meanwhile.
 */
export class PacedPump {
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private stopped = false;
  private readonly stepMs: number;
  private readonly sliceMs: number;
  private readonly highWaterBytes: number;

  constructor(private readonly options: PacedPumpOptions) {
    this.stepMs = options.stepMs ?? 1_000;
    this.sliceMs = options.sliceMs ?? 10;
    this.highWaterBytes = options.highWaterBytes ?? 256 * 1024;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (delayMs === 0) this.immediate = setImmediate(() => this.run());
    else this.timer = setTimeout(() => this.run(), delayMs);
  }

  private run(): void {
    this.timer = null;
    this.immediate = null;
    const { clock, pump } = this.options;
    const sliceEnd = performance.now() + this.sliceMs;
    for (;;) {
      if (this.stopped || clock.nowMs() >= clock.endMs) return; // the end of a replay: done
      if (clock.paused || this.options.takers() === 0) {
        this.schedule(10);
        return;
      }
      if (this.options.backlogBytes() > this.highWaterBytes) {
        this.schedule(1);
        return;
      }
      clock.advance(this.stepMs);
      pump();
      if (performance.now() >= sliceEnd) {
        this.schedule(0);
        return;
      }
    }
  }
}
