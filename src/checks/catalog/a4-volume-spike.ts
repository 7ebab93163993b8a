import { threshold, type Check } from '../check.js';

export const volumeSpike: Check = {
  id: 'A4', bit: 30, group: 'statistics', severity: 'flag', keeps: 'traded notional of the current second and of the last 60 seconds with trades',
  description: 'volume spike: notional traded in the current second above factor x the median notional of recent seconds with trades',
  thresholds: {
    factor: threshold(20, 'multiple of the median 1 s notional', 1),
    minSeconds: threshold(10, 'seconds with trades needed before the check applies', 3, 60),
  },
  evaluate: {
    trade(e, s, t) {
      if (!(e.price > 0) || !(e.size > 0)) return false;
      const sec = Math.floor(e.ts / 1_000_000);
      if (sec !== s.volumeSec) {
        // The second closed: its notional joins the history, whose median is computed once here.
        if (s.volumeNotional > 0 && sec > s.volumeSec) {
          s.volumeHistory.staged = s.volumeNotional;
          s.volumeHistory.pushStaged();
          s.volumeHistory.computeMedian(s.sortScratch);
        }
        if (sec > s.volumeSec) { s.volumeSec = sec; s.volumeNotional = 0; }
      }
      s.volumeNotional += e.price * e.size;
      const median = s.volumeHistory.median;
      if (s.volumeHistory.size < t.minSeconds! || !(median > 0)) return false;
      const ratio = s.volumeNotional / median;
      if (ratio <= t.factor!) return false;
      s.lastValue = ratio; s.lastThreshold = t.factor!;
      return true;
    },
  },
};
