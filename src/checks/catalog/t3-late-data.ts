import { everyEvent, threshold, type Check } from '../check.js';

export const lateData: Check = {
  id: 'T3', bit: 7, group: 'time', severity: 'flag', keeps: 'nothing',
  description: 'late data: received more than maxLatencyMs after the exchange time',
  thresholds: { maxLatencyMs: threshold(2000, 'allowed exchange-to-receive latency', 1) },
  evaluate: everyEvent((e, s, t) => {
    const late = (e.recvTs - e.ts) / 1000;
    if (late <= t.maxLatencyMs!) return false;
    s.lastValue = late; s.lastThreshold = t.maxLatencyMs!;
    return true;
  }),
};
