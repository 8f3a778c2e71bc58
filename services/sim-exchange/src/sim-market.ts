import { MarketModel } from './market-model.js';
import type { MarketSource } from './market-source.js';
import { ModelSource } from './model-source.js';
import { isReplayData, loadReplay, type ReplayData, type ReplayOptions } from './replay/replay-data.js';
import { ReplayError } from './replay/replay-error.js';
import type { SimLogger } from './sim-logger.js';

const DAY_MS = 86_400_000;

export const DEFAULT_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBBTC'] as const;

/** Where the exchange's market comes from: the seeded model, or recorded files. */
export interface MarketChoice {
  readonly seed?: string;
  readonly startMs?: number;
  readonly symbols?: readonly string[];
  readonly historyDays?: number;
  /** Recorded data (loaded with `loadReplay`), or the paths (or options) to load it from. */
  readonly replay?: ReplayData | ReplayOptions | readonly string[];
  readonly logger?: SimLogger;
}

/** The exchange's symbols and their markets, and the time span they cover. */
export interface SimMarket {
  readonly universe: ReadonlyMap<string, MarketSource>;
  readonly symbols: readonly string[];
  /** First instant with market data. */
  readonly originMs: number;
  readonly startMs: number;
  /** End of the data (a replay's); infinite for the model. */
  readonly endMs: number;
  readonly replay: ReplayData | null;
  /** True when the replay was loaded here, so closing the exchange closes it. */
  readonly ownsReplay: boolean;
  /** Lets go of the data (closes it when owned); the exchange calls it on close. */
  release(): void;
}

function nowFlooredToMinute(): number {
  const now = Date.now();
  return now - (now % 60_000);
}

/** Builds the market: the model from seed and start, or a replay loaded and checked. */
export async function chooseMarket(
  choice: MarketChoice,
  onTradesGenerated: (count: number) => void,
): Promise<SimMarket> {
  if (choice.replay === undefined) {
    const startMs = choice.startMs ?? nowFlooredToMinute();
    const originMs = startMs - (startMs % DAY_MS) - (choice.historyDays ?? 7) * DAY_MS;
    const model = new MarketModel({ seed: choice.seed ?? 'visualgo', originMs, onTradesGenerated });
    const symbols = [...new Set((choice.symbols ?? DEFAULT_SYMBOLS).map((s) => s.toUpperCase()))];
    return {
      universe: new Map(symbols.map((s) => [s, new ModelSource(model.symbol(s))])),
      symbols,
      originMs: model.originMs,
      startMs,
      endMs: Number.POSITIVE_INFINITY,
      replay: null,
      ownsReplay: false,
      release: () => {},
    };
  }

  const given = choice.replay;
  const ownsReplay = !isReplayData(given);
  const replay = isReplayData(given)
    ? given
    : await loadReplay(
        isPathList(given)
          ? { paths: given, symbols: choice.symbols, logger: choice.logger }
          : { symbols: choice.symbols, logger: choice.logger, ...given },
      );
  try {
    let symbols = replay.symbols;
    if (choice.symbols && isReplayData(given)) {
      const wanted = choice.symbols.map((s) => s.toUpperCase());
      const missing = wanted.filter((s) => !replay.sources.has(s));
      if (missing.length > 0) throw new ReplayError(`the replay has no data for ${missing.join(', ')}`);
      symbols = [...new Set(wanted)];
    }
    const startMs = choice.startMs ?? replay.defaultStartMs;
    if (!(startMs >= replay.firstMs && startMs < replay.endMs)) {
      throw new ReplayError(
        `replay start ${iso(startMs)} is outside the data, which runs from ${iso(replay.firstMs)} to ${iso(replay.endMs)}`,
      );
    }
    const stopCounting = replay.onTradesRead(onTradesGenerated);
    const universe = new Map<string, MarketSource>();
    for (const s of symbols) {
      const source = replay.sources.get(s);
      if (source) universe.set(s, source);
    }
    return {
      universe,
      symbols,
      originMs: replay.firstMs,
      startMs,
      endMs: replay.endMs,
      replay,
      ownsReplay,
      release: () => {
        stopCounting();
        if (ownsReplay) replay.close();
      },
    };
  } catch (err) {
    if (ownsReplay) replay.close();
    throw err;
  }
}

function isPathList(value: ReplayOptions | readonly string[]): value is readonly string[] {
  return Array.isArray(value);
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
