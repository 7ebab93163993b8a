import { everyEvent, threshold, type Check } from '../check.js';

const ALPHA = 0.05;

export const messageRate: Check = {
  id: 'A5', bit: 31, group: 'statistics', severity: 'flag', keeps: 'messages in the current receive second and an EWMA of messages per second',
  description: 'message-rate anomaly: messages in the current second above highFactor x the baseline rate, or the rate since the last busy second below lowFactor x baseline',
  thresholds: {
    highFactor: threshold(10, 'burst: multiple of the baseline rate', 1),
    lowFactor: threshold(0.1, 'drought: share of the baseline rate', 0, 1),
    warmupSeconds: threshold(60, 'seconds of baseline needed before the check applies', 1),
    minBaseline: threshold(1, 'baseline (messages/s) below which the stream is too thin to judge', 0),
  },
  evaluate: everyEvent((e, s, t) => {
    const sec = Math.floor(e.recvTs / 1_000_000);
    let lowRate = NaN;
    if (sec > s.rateSec) {
      if (s.rateSec > 0) {
        // The rate since the last second with messages, empty seconds included.
        const rate = s.rateCount / (sec - s.rateSec);
        if (s.rateSeconds >= t.warmupSeconds! && s.rateBaseline >= t.minBaseline! && rate < t.lowFactor! * s.rateBaseline) lowRate = rate;
        s.rateBaseline = Number.isNaN(s.rateBaseline) ? rate : s.rateBaseline + ALPHA * (rate - s.rateBaseline);
        s.rateSeconds += sec - s.rateSec;
      }
      s.rateSec = sec;
      s.rateCount = 0;
    }
    s.rateCount++;
    if (s.rateSeconds < t.warmupSeconds! || !(s.rateBaseline >= t.minBaseline!)) return false;
    if (!Number.isNaN(lowRate)) {
      s.lastValue = lowRate / s.rateBaseline; s.lastThreshold = t.lowFactor!;
      return true;
    }
    if (s.rateCount <= t.highFactor! * s.rateBaseline) return false;
    s.lastValue = s.rateCount / s.rateBaseline; s.lastThreshold = t.highFactor!;
    return true;
  }),
};
