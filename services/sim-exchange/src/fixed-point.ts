/**
 * Exact decimal arithmetic for prices and quantities. Prices are whole ticks, quantities whole
 * lots, and quote volume whole units of tick·lot, so sums are exact and the candle derived from
 * a set of trades does not depend on the order in which they were added up.
 */

/** Decimal places Binance prints for prices and quantities on the symbols we simulate. */
export const WIRE_DECIMALS = 8;

/**
 * Formats an integer count of `10^-scale` units with exactly `decimals` places, rounding half up
 * when `scale > decimals`: `formatScaled(1234567n, 5, 8)` is `"12.34567000"`.
 */
export function formatScaled(units: bigint | number, scale: number, decimals = WIRE_DECIMALS): string {
  let value = typeof units === 'bigint' ? units : BigInt(units);
  if (value < 0n) throw new RangeError(`negative amount ${value}`);
  let shownScale = scale;
  if (scale > decimals) {
    const divisor = 10n ** BigInt(scale - decimals);
    value = (value + divisor / 2n) / divisor;
    shownScale = decimals;
  }
  const digits = value.toString().padStart(shownScale + 1, '0');
  const whole = digits.slice(0, digits.length - shownScale);
  const fraction = digits.slice(digits.length - shownScale).padEnd(decimals, '0');
  return decimals === 0 ? whole : `${whole}.${fraction}`;
}

/** `10^-decimals` as a decimal string without exponent: `stepString(2)` is `"0.01000000"`. */
export function stepString(decimals: number): string {
  return formatScaled(1, decimals);
}

/**
 * Adds integer amounts in a plain number while it stays exact and spills into a bigint before
 * it could lose precision. Summing products of ticks and lots this way is exact and far cheaper
 * than one bigint operation per trade.
 */
export class ExactSum {
  private big = 0n;
  private small = 0;

  add(amount: number): void {
    this.small += amount;
    if (this.small > 2 ** 52) {
      this.big += BigInt(this.small);
      this.small = 0;
    }
  }

  addBig(amount: bigint): void {
    this.big += amount;
  }

  total(): bigint {
    return this.big + BigInt(this.small);
  }
}
