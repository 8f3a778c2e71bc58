/**
 * Simulated-exchange benchmarks: `GET /api/v3/historicalTrades` looks a trade id up by binary
 * search over the market's minutes, so a lookup nine days back must cost about what one from the
 * last minutes does (measured in the same run), not grow with the distance.
 */
import { MarketModel } from '../services/sim-exchange/src/market-model.js';
import { latestTrades, tradesFromId } from '../services/sim-exchange/src/trade-lookup.js';
import { type Check, measure } from './harness.js';

const ORIGIN = Date.UTC(2025, 0, 1);
const NOW = ORIGIN + 9 * 86_400_000 + 12 * 3_600_000 + 34_567;

export function simBenchmarks(): { table: Record<string, number>; checks: Check[] } {
  // A fresh market per run, so every lookup pays for generating its minutes as a server would.
  const market = () => {
    const m = new MarketModel({ seed: 'bench', originMs: ORIGIN }).symbol('BTCUSDT');
    latestTrades(m, NOW, 1); // the minute chain up to now, as serving the streams builds it
    return m;
  };
  const probe = market();
  const old = probe.trades(ORIGIN + 6 * 3_600_000, ORIGIN + 7 * 3_600_000)[0];
  const recent = probe.trades(NOW - 3_600_000, NOW)[0];
  if (!old || !recent) throw new Error('no trades to look up');
  let sink = 0;
  const RUNS = 20;
  const near = measure('tradesFromId, an id from the last hour, 1000 trades', RUNS, () => {
    for (let r = 0; r < RUNS; r++) sink += tradesFromId(market(), recent.tradeId + 17, NOW, 1_000).length;
  });
  const far = measure('tradesFromId, an id nine days back, 1000 trades', RUNS, () => {
    for (let r = 0; r < RUNS; r++) sink += tradesFromId(market(), old.tradeId + 17, NOW, 1_000).length;
  });
  if (sink === 42) console.log('');
  return {
    table: {
      'historicalTrades lookup, last hour (ms)': near.nsPerOp / 1e6,
      'historicalTrades lookup, nine days back (ms)': far.nsPerOp / 1e6,
    },
    checks: [
      {
        name: 'old trade lookup costs about a recent one',
        ratio: far.nsPerOp / near.nsPerOp,
        limit: 5,
        detail: 'tradesFromId nine days back / from the last hour (1000 trades each)',
      },
    ],
  };
}
