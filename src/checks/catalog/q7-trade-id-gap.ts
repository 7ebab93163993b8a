import { threshold, type Check } from '../check.js';

export const tradeIdGap: Check = {
  id: 'Q7', bit: 15, group: 'sequence', severity: 'flag', keeps: 'last numeric trade id',
  description: 'trade id gap on venues whose trade ids are contiguous per symbol',
  thresholds: { contiguous: threshold(0, '1 where the venue numbers trades contiguously per symbol', 0, 1, { binance: 1, 'binance-futures': 1, coinbase: 1 }) },
  evaluate: {
    trade(e, s, t) {
      if (t.contiguous !== 1) return false;
      const id = s.tradeIdNum;
      if (Number.isNaN(id)) return false;
      const last = s.lastTradeIdNum;
      if (Number.isNaN(last) || id <= last + 1) return false;
      s.lastValue = id - last - 1; s.lastThreshold = 0;
      return true;
    },
  },
};
