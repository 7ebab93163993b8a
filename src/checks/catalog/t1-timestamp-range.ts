import { everyEvent, threshold, type Check } from '../check.js';

const YEAR_2009_US = 1_230_768_000_000_000;
const YEAR_2100_US = 4_102_444_800_000_000;

export const timestampRange: Check = {
  id: 'T1', bit: 5, group: 'time', severity: 'reject', keeps: 'nothing',
  description: 'exchange time plausible: within [receive - maxAgeMs, receive + maxAheadMs], and in µs (a time in ms or s lands decades off)',
  thresholds: {
    maxAgeMs: threshold(86_400_000, 'oldest acceptable exchange time before the receive time', 1),
    maxAheadMs: threshold(60_000, 'latest acceptable exchange time after the receive time', 0),
  },
  evaluate: everyEvent((e, s, t) => {
    const d = e.ts - e.recvTs;
    if (e.ts > YEAR_2009_US && e.ts < YEAR_2100_US && d <= t.maxAheadMs! * 1000 && -d <= t.maxAgeMs! * 1000) return false;
    s.lastValue = d / 1000; s.lastThreshold = d > 0 ? t.maxAheadMs! : -t.maxAgeMs!;
    return true;
  }),
};
