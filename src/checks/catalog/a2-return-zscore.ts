import { threshold, type Check } from '../check.js';

export const returnZScore: Check = {
  id: 'A2', bit: 21, group: 'statistics', severity: 'flag', keeps: 'EWMA of squared log returns (lambda 0.94)',
  description: 'trade return z-score against the EWMA volatility above maxZ',
  // Tick-to-tick returns are mostly zero, so the EWMA volatility of a quiet symbol collapses and
  // a one-tick move would score z > 6: the volatility is floored at minVolBp.
  thresholds: {
    maxZ: threshold(6, 'absolute z-score of the log return', 1),
    minVolBp: threshold(2, 'floor of the per-trade volatility, basis points', 0),
  },
  evaluate: {
    trade(e, s, t) {
      if (!(s.lastTradePrice > 0) || !(s.ewmaVar >= 0) || s.returnsSeen < 20) return false;
      const r = Math.log(e.price / s.lastTradePrice);
      const z = Math.abs(r) / Math.max(Math.sqrt(s.ewmaVar), t.minVolBp! / 10_000);
      if (z <= t.maxZ!) return false;
      s.lastValue = z; s.lastThreshold = t.maxZ!;
      return true;
    },
  },
};
