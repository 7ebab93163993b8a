import { threshold, type Check } from '../check.js';

export const spreadBlowout: Check = {
  id: 'M3', bit: 19, group: 'microstructure', severity: 'flag', keeps: 'the last 50 spreads',
  description: 'spread wider than factor x the median of the last 50 spreads',
  thresholds: {
    factor: threshold(10, 'multiple of the median spread', 1),
    minSamples: threshold(20, 'spreads needed before the check applies', 1, 50),
  },
  evaluate: {
    quote(e, s, t) {
      if (s.spreads.size < t.minSamples!) return false;
      const spread = e.ask - e.bid;
      s.spreads.computeMedian();
      const median = s.spreads.median;
      if (!(median > 0) || spread <= t.factor! * median) return false;
      s.lastValue = spread / median; s.lastThreshold = t.factor!;
      return true;
    },
  },
};
