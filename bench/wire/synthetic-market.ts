/**
 * The market of the market-shaped benchmark, as data: `symbols` spot pairs, each with a 1m candle
 * that the feeder updates (one kline event per update) and closes at the first update after its
 * minute ends (the closing event, `x: true`, before the new candle's first), the way Binance's
 * kline streams push a 1m candle every 2 s and close it at their next push. Every price a kline
 * event carries is its send time, `<ms mod 10^6>.<µs>` (the candle's close, and so the `close` of
 * the indicator computed from it), so a client measures latency from any update, open or closing.
 *
 * The REST history (`/api/v3/klines`) agrees with the streams: minutes before the market started
 * are generated from the symbol and the minute alone (from `historyMinutes` before it: the symbols
 * were listed then), minutes since are the candles the streams closed, and the current one is the
 * open candle as it stands. A candle asked for over REST after its minute ended is closed there and
 * then (its closing event goes out with the symbol's next update), as the exchange would have.
 */

const MINUTE_MS = 60_000;
/** Volume one kline update adds to its candle (one trade of this size). */
const UPDATE_VOLUME = 0.5;

/** `count` spot-pair names, `M0000USDT`, `M0001USDT`, ... */
export function marketSymbols(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `M${String(i).padStart(4, '0')}USDT`);
}

/** A price carrying the send time `us` (µs): `<ms mod 10^6>.<µs>`, as `readIndicatorSentUs` reads it. */
export function stampPrice(us: number): Price {
  const ms = Math.floor(us / 1000);
  const frac = Math.floor(us - ms * 1000);
  const whole = ms % 1_000_000;
  return { text: `${whole}.${String(frac).padStart(3, '0')}`, value: whole + frac / 1000, us };
}

interface Price {
  readonly text: string;
  readonly value: number;
  /** The send time it carries (µs); NaN for a price of the history. */
  readonly us: number;
}

/** A kline event and the send time its close carries (NaN when it carries none). */
export interface KlineFrame {
  readonly text: string;
  readonly sentUs: number;
  /** An open candle's update, a closing event, or the closing event of a candle closed over REST. */
  readonly kind: 'open' | 'close' | 'rest-close';
}

interface LiveCandle {
  readonly openMs: number;
  open: Price;
  high: Price;
  low: Price;
  close: Price;
  updates: number;
}

interface SymbolState {
  candle: LiveCandle;
  /** Event time of the last kline event: each one gets a later one, as on Binance. */
  lastEventMs: number;
  /** Closing events of candles closed over REST, not sent yet. */
  pending: KlineFrame[];
  /** Closed candles of the market's own minutes, as REST rows, by open time. */
  readonly closed: Map<number, string>;
}

export interface KlinesQuery {
  readonly startTime?: number;
  readonly endTime?: number;
  readonly limit?: number;
}

export interface SyntheticMarketOptions {
  readonly symbols: readonly string[];
  /** Minutes of history before the market's first minute. */
  readonly historyMinutes: number;
  /** Wall-clock now (ms): the market's first minute is the one holding it. */
  readonly nowMs: number;
}

export class SyntheticMarket {
  readonly symbols: readonly string[];
  private readonly index: ReadonlyMap<string, number>;
  private readonly states: SymbolState[];
  private readonly firstMinuteMs: number;
  private readonly listedMs: number;

  constructor(options: SyntheticMarketOptions) {
    this.symbols = options.symbols;
    this.index = new Map(options.symbols.map((s, i) => [s, i]));
    this.firstMinuteMs = floorMinute(options.nowMs);
    this.listedMs = this.firstMinuteMs - options.historyMinutes * MINUTE_MS;
    this.states = options.symbols.map((_, i) => {
      const previous = historyClose(i, this.firstMinuteMs - MINUTE_MS);
      return {
        candle: flatCandle(this.firstMinuteMs, previous),
        lastEventMs: 0,
        pending: [],
        closed: new Map(),
      };
    });
  }

  indexOf(symbol: string): number | undefined {
    return this.index.get(symbol);
  }

  /**
   * The kline events of one update of symbol `i` sent at `us` (µs): closing events first (of a
   * candle closed over REST since the last update, and of the current one when its minute has
   * ended, with this update as its last), then the open candle with this update.
   */
  update(i: number, us: number): KlineFrame[] {
    const state = this.state(i);
    const ms = Math.floor(us / 1000);
    const frames = state.pending;
    state.pending = [];
    const price = stampPrice(us);
    if (state.candle.openMs < floorMinute(ms)) frames.push(this.close(i, ms, price, 'close'));
    apply(state.candle, price);
    frames.push(this.event(i, ms, 'open'));
    return frames;
  }

  /** `GET /api/v3/klines` for symbol `i` at `nowMs`, as Binance answers it (1m only). */
  klines(i: number, query: KlinesQuery, nowMs: number): string {
    const state = this.state(i);
    // A candle whose minute has ended is closed now; its event goes out with the next update.
    if (state.candle.openMs < floorMinute(nowMs))
      state.pending.push(this.close(i, nowMs, null, 'rest-close'));
    const currentMs = state.candle.openMs;
    const limit = Math.min(1000, Math.max(1, query.limit ?? 500));
    let fromMs: number;
    let toMs: number;
    if (query.startTime !== undefined) {
      fromMs = Math.max(this.listedMs, ceilMinute(query.startTime));
      toMs = Math.min(currentMs, query.endTime === undefined ? currentMs : floorMinute(query.endTime));
      toMs = Math.min(toMs, fromMs + (limit - 1) * MINUTE_MS);
    } else {
      toMs = Math.min(currentMs, floorMinute(query.endTime ?? nowMs));
      fromMs = Math.max(this.listedMs, toMs - (limit - 1) * MINUTE_MS);
    }
    const rows: string[] = [];
    for (let m = fromMs; m <= toMs; m += MINUTE_MS) {
      const row =
        m === currentMs
          ? candleRow(state.candle)
          : m >= this.firstMinuteMs
            ? state.closed.get(m)
            : historyRow(i, m);
      if (row !== undefined) rows.push(row);
    }
    return `[${rows.join(',')}]`;
  }

  /**
   * Closes symbol `i`'s candle (with a last update at `price` when given) and opens the one of the
   * minute holding `ms`; returns the closing event. Minutes in between without an update (the
   * feeder stalled) are kept as flat candles without volume, as Binance keeps quiet minutes.
   */
  private close(i: number, ms: number, price: Price | null, kind: KlineFrame['kind']): KlineFrame {
    const state = this.state(i);
    const ended = state.candle;
    if (price !== null) apply(ended, price);
    state.closed.set(ended.openMs, candleRow(ended));
    const closing = this.event(i, ms, kind);
    const nowMinute = floorMinute(ms);
    for (let m = ended.openMs + MINUTE_MS; m < nowMinute; m += MINUTE_MS)
      state.closed.set(m, candleRow(flatCandle(m, ended.close)));
    state.candle = flatCandle(nowMinute, ended.close);
    return closing;
  }

  private event(i: number, ms: number, kind: KlineFrame['kind']): KlineFrame {
    const state = this.state(i);
    const c = state.candle;
    const eventMs = Math.max(ms, state.lastEventMs + 1);
    state.lastEventMs = eventMs;
    const symbol = this.symbols[i] as string;
    const v = volumeOf(c);
    const text =
      `{"e":"kline","E":${eventMs},"s":"${symbol}","k":{"t":${c.openMs},"T":${c.openMs + MINUTE_MS - 1},` +
      `"s":"${symbol}","i":"1m","f":${c.updates > 0 ? 1 : -1},"L":${c.updates > 0 ? c.updates : -1},` +
      `"o":"${c.open.text}","c":"${c.close.text}","h":"${c.high.text}","l":"${c.low.text}",` +
      `"v":"${v.base}","n":${c.updates},"x":${kind !== 'open'},"q":"${v.quote}","V":"${v.takerBase}",` +
      `"Q":"${v.takerQuote}","B":"0"}}`;
    return { text, sentUs: c.close.us, kind };
  }

  private state(i: number): SymbolState {
    const state = this.states[i];
    if (!state) throw new RangeError(`no symbol ${i}`);
    return state;
  }
}

function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

function ceilMinute(ms: number): number {
  return Math.ceil(ms / MINUTE_MS) * MINUTE_MS;
}

function flatCandle(openMs: number, price: Price): LiveCandle {
  return { openMs, open: price, high: price, low: price, close: price, updates: 0 };
}

function apply(c: LiveCandle, price: Price): void {
  c.close = price;
  if (price.value > c.high.value) c.high = price;
  if (price.value < c.low.value) c.low = price;
  c.updates++;
}

function volumeOf(c: LiveCandle) {
  const base = c.updates * UPDATE_VOLUME;
  const quote = base * c.close.value;
  return {
    base: base.toFixed(1),
    quote: quote.toFixed(3),
    takerBase: (base / 2).toFixed(2),
    takerQuote: (quote / 2).toFixed(4),
  };
}

function candleRow(c: LiveCandle): string {
  const v = volumeOf(c);
  return (
    `[${c.openMs},"${c.open.text}","${c.high.text}","${c.low.text}","${c.close.text}","${v.base}",` +
    `${c.openMs + MINUTE_MS - 1},"${v.quote}",${c.updates},"${v.takerBase}","${v.takerQuote}","0"]`
  );
}

/** The close of a minute before the market started: a slow wave around a level per symbol. */
function historyClose(i: number, openMs: number): Price {
  const k = openMs / MINUTE_MS;
  const value = Number(((20 + (i % 200)) * (1 + 0.002 * Math.sin(k * 0.05 + i))).toFixed(4));
  return { text: value.toFixed(4), value, us: Number.NaN };
}

function historyRow(i: number, openMs: number): string {
  const open = historyClose(i, openMs - MINUTE_MS);
  const close = historyClose(i, openMs);
  const k = openMs / MINUTE_MS;
  const high = (Math.max(open.value, close.value) * 1.0004).toFixed(4);
  const low = (Math.min(open.value, close.value) * 0.9996).toFixed(4);
  const volume = 5 + ((k + i) % 11);
  const quote = volume * close.value;
  const trades = 10 + ((k * 7 + i) % 40);
  return (
    `[${openMs},"${open.text}","${high}","${low}","${close.text}","${volume}.000",${openMs + MINUTE_MS - 1},` +
    `"${quote.toFixed(3)}",${trades},"${(volume / 2).toFixed(3)}","${(quote / 2).toFixed(4)}","0"]`
  );
}
