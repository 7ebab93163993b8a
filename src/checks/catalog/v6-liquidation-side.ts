import { threshold, type Check } from '../check.js';

export const liquidationSide: Check = {
  id: 'V6', bit: 25, group: 'value', severity: 'flag', keeps: 'the last best bid/ask (shared with M2)',
  description: 'liquidation on the wrong side of the market: a long is liquidated by a sell, so its price cannot be above the ask (a short\'s not below the bid) by more than toleranceBp; a flipped side convention shows up here',
  thresholds: {
    toleranceBp: threshold(50, 'how far past the touch the liquidation price may be, bp', 0),
    maxQuoteAgeMs: threshold(10_000, 'only compare with a quote at most this old', 1),
  },
  evaluate: {
    liquidation(e, s, t) {
      if (!(s.bid > 0) || !(s.ask > 0)) return false;
      if (Math.abs(e.ts - s.quoteTs) > t.maxQuoteAgeMs! * 1000) return false;
      const pastBp = e.posSide === 'long' ? ((e.price - s.ask) / s.ask) * 10_000 : ((s.bid - e.price) / s.bid) * 10_000;
      if (pastBp <= t.toleranceBp!) return false;
      s.lastValue = pastBp; s.lastThreshold = t.toleranceBp!;
      return true;
    },
  },
};
