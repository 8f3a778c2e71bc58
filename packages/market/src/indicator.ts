/**
 * The streaming contract every indicator in this package follows, after bennycode/trading-signals.
 *
 * An indicator consumes points in time order. Its committed state covers every point passed to
 * `add` (with the last one possibly revised by `replace`); nothing else changes it.
 *
 * - `add(x)` commits `x` as the point after the last committed one and returns the new result.
 * - `replace(x)` revises the last committed point: afterwards the indicator is in exactly the state
 *   a fresh instance would reach from the same sequence with the last point swapped for `x`
 *   (bit for bit, not merely close). It may be called any number of times in a row. With nothing
 *   committed yet it behaves like `add`. Each indicator keeps one level of undo for this, so it is
 *   O(1) and never recomputes over history.
 * - `preview(x)` returns what `getResult()` would return after `add(x)`, and changes nothing:
 *   results, `isStable` and any later `add` are the same as if it had never been called. This is
 *   how a still-open candle gets provisional values: preview each update, `add` once it closes.
 * - `getResult()` is the result after the committed points, `null` until the indicator has warmed
 *   up (and, for indicators that can lose their value, such as an anchored VWAP after a reset into
 *   a period with no volume, whenever it has none).
 * - `isStable` is `getResult() !== null`.
 *
 * All four operations are O(1) and allocate nothing. Inputs must be finite numbers; an indicator
 * throws a `RangeError` rather than let a `NaN` or an infinity into its state.
 */
export interface StreamingIndicator<In, Out = number> {
  add(x: In): Out | null;
  replace(x: In): Out | null;
  preview(x: In): Out | null;
  getResult(): Out | null;
  readonly isStable: boolean;
}

/** Throws unless `period` is an integer of at least 1. */
export function assertPeriod(name: string, period: number): void {
  if (!Number.isInteger(period) || period < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${period}`);
  }
}

/** Throws unless `value` is a finite number. */
export function assertFinite(name: string, value: number): void {
  if (!Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number, got ${value}`);
  }
}
