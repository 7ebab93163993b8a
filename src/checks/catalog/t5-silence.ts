import { everyEvent, threshold, type Check } from '../check.js';

/** Gaps of an event type needed before its silence limit is learned (and T5, T7 apply to it). */
const MIN_GAPS = 8;

/**
 * Both halves of silence detection share the limit this check learns, per stream and event type
 * (a stream's liquidations minutes apart, its trades milliseconds apart). The timer half runs on
 * the main thread (`SharedReference.sweep`): it reports a stream the moment one of its continuous
 * types has been silent longer than that type's limit, to the cascade stream and metrics. This
 * half flags the event that ends the silence, so the stored data shows where the hole is.
 *
 * The limit scales the 90th percentile of the type's gaps, not their median: real feeds are
 * bursty (a match prints several trades in a millisecond, liquidations come in cascades), so the
 * median gap is a fraction of a pause between bursts. On the recordings the p90 gap is 4-200x
 * the median (Coinbase SKL-USD trades: median 71 ms, p90 1.3 s, pauses up to 5.9 s), and a limit
 * of 20 median gaps flagged ordinary pauses of illiquid symbols.
 */
export const streamSilence: Check = {
  id: 'T5', bit: 26, group: 'time', severity: 'flag', keeps: 'per event type: the last 64 receive-time gaps and the learned silence limit',
  description: 'an event type of a stream silent longer than max(minSilenceMs, gapMultiple x the 90th percentile of its last 64 gaps), learned after 8 gaps: reported by a timer while silent, and flagged on the event that resumes it',
  thresholds: {
    minSilenceMs: threshold(5_000, 'never call a stream silent sooner than this', 100),
    gapMultiple: threshold(10, 'silence limit in 90th-percentile receive gaps of the event type', 1),
  },
  evaluate: everyEvent((e, s, t) => {
    const ti = s.eventType;
    const last = s.lastRecvByType[ti]!;
    if (last === 0) return false;
    const gap = e.recvTs - last;
    const limit = s.silenceByType[ti]!;
    if (gap >= 0) {
      const gaps = s.recvGaps(ti);
      gaps.staged = gap;
      gaps.pushStaged();
      // Refreshed every 16 gaps once learned: amortized O(1).
      if (gaps.size >= MIN_GAPS && (++s.gapsSinceMedian[ti]! >= 16 || limit === 0)) {
        s.gapsSinceMedian[ti] = 0;
        gaps.computeMedian(s.sortScratch);
        s.silenceByType[ti] = Math.max(t.minSilenceMs! * 1000, t.gapMultiple! * gaps.p90);
      }
    }
    if (limit === 0 || gap <= limit) return false;
    s.lastValue = gap / 1000; s.lastThreshold = limit / 1000;
    return true;
  }),
};
