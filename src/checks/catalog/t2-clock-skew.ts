import { everyEvent, threshold, type Check } from '../check.js';

/**
 * Negative latency: an exchange time later than the local receive time. Clocks disagree by a few
 * ms (the recordings: up to 18 ms on Coinbase, whose clock runs ahead of the recorder's), but a
 * stream "in the future" by 70 ms or more on every message has a clock fault on one side, and
 * every latency and staleness figure downstream is wrong by as much. Per stream: the bound can be
 * set per venue and per symbol (`checks.venues`, `checks.symbols`).
 */
export const clockSkew: Check = {
  id: 'T2', bit: 6, group: 'time', severity: 'flag', keeps: 'nothing',
  description: 'negative latency (clock fault): exchange time later than the receive time by more than maxSkewMs',
  thresholds: { maxSkewMs: threshold(50, 'allowed lead of exchange time over receive time, ms', 0) },
  evaluate: everyEvent((e, s, t) => {
    const lead = (e.ts - e.recvTs) / 1000;
    if (lead <= t.maxSkewMs!) return false;
    s.lastValue = lead; s.lastThreshold = t.maxSkewMs!;
    return true;
  }),
};
