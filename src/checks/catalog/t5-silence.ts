import { everyEvent, threshold, type Check } from '../check.js';

/**
 * Both halves of silence detection share the limit this check learns. The timer half runs on
 * the main thread (`SharedReference.sweep`): it reports a stream the moment it has been silent
 * longer than the limit, to the cascade stream and metrics. This half flags the event that ends
 * the silence, so the stored data shows where the hole is.
 */
export const streamSilence: Check = {
  id: 'T5', bit: 26, group: 'time', severity: 'flag', keeps: 'the last 64 receive-time gaps and the learned silence limit',
  description: 'stream silent longer than max(minSilenceMs, gapMultiple x median gap): reported by a timer while silent, and flagged on the event that resumes it',
  thresholds: {
    minSilenceMs: threshold(5_000, 'never call a stream silent sooner than this', 100),
    gapMultiple: threshold(20, 'silence limit in median receive gaps', 1),
  },
  evaluate: everyEvent((e, s, t) => {
    if (s.lastRecvUs === 0) return false;
    const gap = e.recvTs - s.lastRecvUs;
    const limit = s.silenceUs;
    if (gap >= 0) {
      s.recvGaps.staged = gap;
      s.recvGaps.pushStaged();
      // The median of 64 gaps is refreshed every 16 events: amortized O(1).
      if (++s.gapsSinceMedian >= 16 || limit === 0) {
        s.gapsSinceMedian = 0;
        s.recvGaps.computeMedian(s.sortScratch);
        s.silenceUs = Math.max(t.minSilenceMs! * 1000, t.gapMultiple! * s.recvGaps.median);
      }
    }
    if (limit === 0 || gap <= limit) return false;
    s.lastValue = gap / 1000; s.lastThreshold = limit / 1000;
    return true;
  }),
};
