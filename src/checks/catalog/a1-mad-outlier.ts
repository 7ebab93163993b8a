import { threshold, type Check } from '../check.js';

export const madOutlier: Check = {
  id: 'A1', bit: 20, group: 'statistics', severity: 'flag', keeps: 'the last 50 trade prices',
  description: 'robust outlier: trade price farther than k MADs from the rolling median',
  thresholds: {
    k: threshold(10, 'distance from the median in median absolute deviations', 1),
    minSamples: threshold(20, 'prices needed before the check applies', 5, 50),
  },
  evaluate: {
    trade(e, s, t) {
      if (s.prices.size < t.minSamples!) return false;
      s.prices.computeMad();
      const mad = s.prices.mad;
      const median = s.prices.median;
      if (!(mad > 0)) return false;
      const distance = Math.abs(e.price - median) / mad;
      if (distance <= t.k!) return false;
      s.lastValue = distance; s.lastThreshold = t.k!;
      return true;
    },
  },
};
