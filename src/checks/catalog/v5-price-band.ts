import { threshold, type Check } from '../check.js';

export const priceBand: Check = {
  id: 'V5', bit: 3, group: 'value', severity: 'reject', keeps: 'last trade price',
  description: 'trade price inside the band around the last trade price (venues enforce x5 / x0.2)',
  thresholds: { maxRatio: threshold(5, 'reject above last price x this, or below last price / this', 1.0001) },
  evaluate: {
    trade(e, s, t) {
      if (!(s.lastTradePrice > 0) || !(e.price > 0)) return false;
      const ratio = e.price / s.lastTradePrice;
      if (ratio <= t.maxRatio! && ratio >= 1 / t.maxRatio!) return false;
      s.lastValue = ratio; s.lastThreshold = t.maxRatio!;
      return true;
    },
  },
};
