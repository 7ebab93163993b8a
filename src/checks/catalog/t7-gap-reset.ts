import { everyEvent, threshold, type Check } from '../check.js';

/**
 * Runs first (registry order) and restarts the statistical baselines at once, so the event after
 * the gap is judged against a fresh baseline, not the one from before the gap (a normal price a
 * day later raised A1/A2/C5 when the reset came after the checks). A gap is one of the stream as
 * a whole and of the event's type, longer than maxGapMs and than the type's learned silence
 * limit (T5): a liquidation minutes after the last one, on a stream whose trades flow, is no gap.
 */
export const gapReset: Check = {
  id: 'T7', bit: 10, group: 'time', severity: 'flag', keeps: 'receive time of the last event, per event type',
  description: 'first event after a gap longer than maxGapMs (and than its event type\'s learned silence limit): statistical baselines restart before the other checks judge it',
  thresholds: { maxGapMs: threshold(60_000, 'silence after which baselines reset', 1) },
  evaluate: everyEvent((e, s, t) => {
    if (s.lastRecvUs === 0) return false;
    const streamGapMs = (e.recvTs - s.lastRecvUs) / 1000;
    if (streamGapMs <= t.maxGapMs!) return false;
    const ti = s.eventType;
    const learned = s.silenceByType[ti]!;
    // A type's second event has no history of its gaps to tell a gap from its normal pace.
    if (learned === 0) return false;
    const limitMs = Math.max(t.maxGapMs!, learned / 1000);
    const typeGapMs = (e.recvTs - s.lastRecvByType[ti]!) / 1000;
    if (typeGapMs <= limitMs) return false;
    s.resetBaselines();
    s.lastValue = typeGapMs; s.lastThreshold = limitMs;
    return true;
  }),
};
