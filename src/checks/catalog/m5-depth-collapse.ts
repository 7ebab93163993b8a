import { threshold, type Check } from '../check.js';

export const depthCollapse: Check = {
  id: 'M5', bit: 38, group: 'microstructure', severity: 'flag', keeps: 'one depth sample per second for the last 50 seconds (and the book)',
  description: 'depth within bandPct of the mid (notional, both sides) below 1 / factor of its median over the last 50 sampled seconds',
  thresholds: {
    bandPct: threshold(1, 'band around the mid, percent', 0.01, 50),
    factor: threshold(5, 'collapse: depth below median / factor', 1),
    minSamples: threshold(20, 'sampled seconds needed before the check applies', 5, 50),
  },
  evaluate: {
    book(e, s, t) {
      if (s.book === undefined || (e.action === 'delta' && !s.bookSynced)) return false;
      if (!(s.book.midPrice > 0)) return false;
      s.book.measureDepth(t.bandPct!);
      const depth = s.book.depthNotional;
      const median = s.depthSamples.median;
      const collapsed = s.depthSamples.size >= t.minSamples! && median > 0 && depth * t.factor! < median;
      const sec = Math.floor(e.ts / 1_000_000);
      // One sample per second (book updates within a second are one observation); a collapsed
      // depth stays out of the baseline it is judged against.
      if (sec > s.depthSampleSec && !collapsed) {
        s.depthSampleSec = sec;
        s.depthSamples.staged = depth;
        s.depthSamples.pushStaged();
        s.depthSamples.computeMedian(s.sortScratch);
      }
      if (!collapsed) return false;
      s.lastValue = depth / median; s.lastThreshold = 1 / t.factor!;
      return true;
    },
  },
};
