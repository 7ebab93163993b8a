import { threshold, type Check } from '../check.js';

export const tradeVsReference: Check = {
  id: 'X3', bit: 35, group: 'cross-venue', severity: 'flag', keeps: 'reads the shared cross-venue reference',
  description: 'trade price farther than maxBp from the median of the other venues\' prices for the same instrument (excluded from price statistics)',
  thresholds: {
    maxBp: threshold(50, 'distance from the reference, bp', 1),
    maxAgeMs: threshold(2_000, 'other venues\' prices older than this (exchange time) are left out', 1),
    minVenues: threshold(2, 'other venues needed for a median', 1, 7),
  },
  evaluate: {
    trade(e, s, t) {
      if (s.ref === undefined || s.refEntry < 0 || !(e.price > 0)) return false;
      const q = s.ref.median(s.refInstrument, s.refEntry, s, t.maxAgeMs!);
      if (q.venues < t.minVenues!) return false;
      const devBp = (Math.abs(e.price - q.median) / q.median) * 10_000;
      if (devBp <= t.maxBp!) return false;
      s.lastValue = devBp; s.lastThreshold = t.maxBp!;
      return true;
    },
  },
};
