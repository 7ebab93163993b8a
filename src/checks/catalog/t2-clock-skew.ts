import { everyEvent, threshold, type Check } from '../check.js';

export const clockSkew: Check = {
  id: 'T2', bit: 6, group: 'time', severity: 'flag', keeps: 'nothing',
  description: 'clock skew: exchange time later than the receive time by more than maxSkewMs',
  thresholds: { maxSkewMs: threshold(250, 'allowed lead of exchange time over receive time', 0) },
  evaluate: everyEvent((e, s, t) => {
    const lead = (e.ts - e.recvTs) / 1000;
    if (lead <= t.maxSkewMs!) return false;
    s.lastValue = lead; s.lastThreshold = t.maxSkewMs!;
    return true;
  }),
};
