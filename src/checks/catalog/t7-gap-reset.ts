import { everyEvent, threshold, type Check } from '../check.js';

export const gapReset: Check = {
  id: 'T7', bit: 10, group: 'time', severity: 'flag', keeps: 'receive time of the last event',
  description: 'first event after a gap longer than maxGapMs: statistical baselines restart (no fake jumps)',
  thresholds: { maxGapMs: threshold(60_000, 'silence after which baselines reset', 1) },
  evaluate: everyEvent((e, s, t) => {
    if (s.lastRecvUs === 0) return false;
    const gap = (e.recvTs - s.lastRecvUs) / 1000;
    if (gap <= t.maxGapMs!) return false;
    s.afterGap = true;
    s.lastValue = gap; s.lastThreshold = t.maxGapMs!;
    return true;
  }),
};
