import { threshold, type Check } from '../check.js';

export const staleOnSubscribe: Check = {
  id: 'T6', bit: 9, group: 'time', severity: 'flag', keeps: 'time of the first event of the stream',
  description: 'stale on subscribe: a trade older than maxAgeMs in the first warmupMs of a stream (venues replay history at connect)',
  thresholds: {
    maxAgeMs: threshold(5000, 'age of a trade at receipt that counts as replayed history', 1),
    warmupMs: threshold(30_000, 'how long after the first event of a stream the check applies', 0),
  },
  evaluate: {
    trade(e, s, t) {
      const first = s.firstRecvUs === 0 ? e.recvTs : s.firstRecvUs;
      if (e.recvTs - first > t.warmupMs! * 1000) return false;
      const age = (e.recvTs - e.ts) / 1000;
      if (age <= t.maxAgeMs!) return false;
      s.lastValue = age; s.lastThreshold = t.maxAgeMs!;
      return true;
    },
  },
};
