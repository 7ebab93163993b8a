import { threshold, type Check } from '../check.js';

export const liquidationBurst: Check = {
  id: 'C1', bit: 22, group: 'cascade', severity: 'flag', keeps: 'liquidation times and notionals of the last window (ring of 512)',
  description: 'liquidation burst: liquidated notional in the last windowMs at or above minNotional',
  thresholds: {
    windowMs: threshold(60_000, 'window of the sum', 1),
    minNotional: threshold(100_000, 'liquidated notional (quote currency) that makes a burst', 0),
  },
  evaluate: {
    liquidation(e, s, t) {
      let sum = e.price * e.size;
      const from = e.ts - t.windowMs! * 1000;
      // Newest first, straight from the rings' arrays (a method returning each number would box it).
      const times = s.liqTimes.values;
      const notionals = s.liqNotional.values;
      const cap = s.liqTimes.capacity;
      for (let i = 0, at = s.liqTimes.head - 1; i < s.liqTimes.size; i++, at--) {
        if (at < 0) at += cap;
        if (times[at]! < from) break;
        sum += notionals[at]!;
      }
      s.liqTimes.staged = e.ts;
      s.liqTimes.pushStaged();
      s.liqNotional.staged = e.price * e.size;
      s.liqNotional.pushStaged();
      // Published with the stream's entry; the sweep sums them per venue and market-wide (C7).
      s.liqWindowNotional = sum;
      s.liqLastTs = e.ts;
      if (sum < t.minNotional!) return false;
      s.lastValue = sum; s.lastThreshold = t.minNotional!;
      return true;
    },
  },
};
