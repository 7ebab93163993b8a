import { threshold, type Check } from '../check.js';

const SECONDS = 60;
const ALPHA = 0.01;

export const takerImbalance: Check = {
  id: 'C3', bit: 39, group: 'cascade', severity: 'flag', keeps: 'taker buy and sell notional per second of the last minute, and an EWMA of the minute\'s total',
  description: 'taker flow imbalance: over the last minute, |buy - sell| / (buy + sell) at least minImbalance while the minute\'s notional is at least factor x its normal',
  thresholds: {
    minImbalance: threshold(0.6, 'share of one side in the imbalance', 0, 1),
    factor: threshold(5, 'minute notional as a multiple of normal', 1),
    warmupSeconds: threshold(120, 'seconds of history needed before the check applies', 1),
  },
  evaluate: {
    trade(e, s, t) {
      if (e.side === '' || !(e.price > 0)) return false;
      const sec = Math.floor(e.ts / 1_000_000);
      if (sec > s.flowSec) {
        if (s.flowSec > 0) {
          const steps = Math.min(SECONDS, sec - s.flowSec);
          for (let k = 1; k <= steps; k++) { const i = (s.flowSec + k) % SECONDS; s.buyFlow[i] = 0; s.sellFlow[i] = 0; }
          let buy = 0;
          let sell = 0;
          for (let i = 0; i < SECONDS; i++) { buy += s.buyFlow[i]!; sell += s.sellFlow[i]!; }
          s.buySum = buy;
          s.sellSum = sell;
          // The normal minute: sampled once per second that saw trades.
          s.flowNormal = Number.isNaN(s.flowNormal) ? buy + sell : s.flowNormal + ALPHA * (buy + sell - s.flowNormal);
          s.flowSeconds += sec - s.flowSec;
        }
        s.flowSec = sec;
      } else if (s.flowSec - sec >= SECONDS) {
        return false;
      }
      const notional = e.price * e.size;
      const i = sec % SECONDS;
      if (e.side === 'buy') { s.buyFlow[i]! += notional; s.buySum += notional; }
      else { s.sellFlow[i]! += notional; s.sellSum += notional; }
      if (s.flowSeconds < t.warmupSeconds! || !(s.flowNormal > 0)) return false;
      const total = s.buySum + s.sellSum;
      const imbalance = (s.buySum - s.sellSum) / total;
      if (total < t.factor! * s.flowNormal || Math.abs(imbalance) < t.minImbalance!) return false;
      s.lastValue = imbalance; s.lastThreshold = t.minImbalance!;
      return true;
    },
  },
};
