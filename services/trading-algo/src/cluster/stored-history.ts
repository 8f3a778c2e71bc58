import type { IndicatorSource } from '../engine/indicator-source.js';
import { type PointsLog, wireOfMessage } from './algo-output.js';

/**
 * A cluster worker's indicators as its own HTTP edge serves them: the engine's, and the final
 * points it does not hold read from `ALGO_POINTS`. A stream taken up from a saved state (a restart,
 * a takeover) holds only the points computed since; the ones before were stored by whichever
 * worker computed them, so `/api/indicators` answers as deep as `HISTORY_POINTS` all the same.
 * `points` is null until the worker is connected to NATS (only what is held is served meanwhile).
 */
export function withStoredHistory(engine: IndicatorSource, points: () => PointsLog | null): IndicatorSource {
  return {
    subscribe: (listener) => engine.subscribe(listener),
    get streamsListed() {
      return engine.streamsListed;
    },
    streams: () => engine.streams(),
    info: (stream) => engine.info(stream),
    finalCount: (stream) => engine.finalCount(stream),
    snapshot: (stream, limit) => engine.snapshot(stream, limit),
    async history(stream, limit, endTimeMs) {
      const held = await engine.history(stream, limit, endTimeMs);
      const log = points();
      if (!held || held.length >= limit || !log) return held;
      // Older than the first held point (or than endTimeMs when none is held).
      const end = held[0] ? held[0].openTimeMs - 1 : endTimeMs;
      const older = await log.last(stream, limit - held.length, end);
      return [...older.map(wireOfMessage), ...held];
    },
  };
}
