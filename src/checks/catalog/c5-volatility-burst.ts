import { threshold, type Check } from '../check.js';

export const volatilityBurst: Check = {
  id: 'C5', bit: 40, group: 'cascade', severity: 'flag', keeps: 'exponentially decayed sums of squared log returns over a fast and a slow horizon',
  description: 'volatility burst: realised volatility over fastS divided by realised volatility over slowS (per unit time) above factor',
  thresholds: {
    factor: threshold(4, 'fast / slow volatility ratio', 1),
    fastS: threshold(60, 'fast horizon, seconds', 1),
    slowS: threshold(3_600, 'slow horizon, seconds', 10),
    warmupS: threshold(600, 'history needed before the check applies, seconds', 0),
    minReturns: threshold(50, 'returns needed before the check applies', 2),
  },
  evaluate: {
    trade(e, s, t) {
      if (!(e.price > 0)) return false;
      s.rvPending = false;
      const prev = s.lastTradePrice;
      if (!(prev > 0)) return false;
      const dt = s.rvTs > 0 ? Math.max(0, (e.ts - s.rvTs) / 1_000_000) : 0;
      const r = Math.log(e.price / prev);
      // Computed here, committed by the engine only if the trade stays in the price statistics.
      s.rvFastNext = s.rvFast * Math.exp(-dt / t.fastS!) + r * r;
      s.rvSlowNext = s.rvSlow * Math.exp(-dt / t.slowS!) + r * r;
      s.rvPending = true;
      if (s.rvReturns < t.minReturns! || e.ts - s.rvFirstTs < t.warmupS! * 1_000_000 || !(s.rvSlowNext > 0)) return false;
      const ratio = Math.sqrt((s.rvFastNext / t.fastS!) / (s.rvSlowNext / t.slowS!));
      if (ratio <= t.factor!) return false;
      s.lastValue = ratio; s.lastThreshold = t.factor!;
      return true;
    },
  },
};
