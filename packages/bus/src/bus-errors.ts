/**
 * Why a subscription ended with an error. The edges translate them: gRPC answers
 * `RESOURCE_EXHAUSTED`, `OUT_OF_RANGE` and `UNAVAILABLE`; WebSocket closes with 1008.
 */

/** The subscriber let more live events wait than its bound: it is cut off; the others never wait. */
export class SlowConsumerError extends Error {
  override readonly name = 'SlowConsumerError';
}

/** A replay asked to start so far back that the implementation will not serve it. */
export class ReplayOutOfRange extends Error {
  override readonly name = 'ReplayOutOfRange';
}

/**
 * History a replay needs is not available now (the exchange did not serve it, the start-up
 * history is still loading, or the held history moved on while the replay was prepared): retry.
 */
export class HistoryUnavailable extends Error {
  override readonly name = 'HistoryUnavailable';
}
