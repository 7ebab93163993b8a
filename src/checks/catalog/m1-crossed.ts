import type { Check } from '../check.js';

export const crossedBook: Check = {
  id: 'M1', bit: 17, group: 'microstructure', severity: 'reject', keeps: 'nothing',
  description: 'crossed quote or snapshot: best bid above best ask (locked, bid == ask, is allowed)',
  thresholds: {},
  evaluate: {
    quote(e, s) {
      if (!(e.bid > e.ask)) return false;
      s.lastValue = e.bid; s.lastThreshold = e.ask;
      return true;
    },
    book(e, s) {
      if (e.action !== 'snapshot') return false;
      let bestBid = -Infinity;
      let bestAsk = Infinity;
      for (let i = 0; i < e.bids.length; i++) if (e.bids[i]![1] > 0 && e.bids[i]![0] > bestBid) bestBid = e.bids[i]![0];
      for (let i = 0; i < e.asks.length; i++) if (e.asks[i]![1] > 0 && e.asks[i]![0] < bestAsk) bestAsk = e.asks[i]![0];
      if (!(bestBid > bestAsk)) return false;
      s.lastValue = bestBid; s.lastThreshold = bestAsk;
      return true;
    },
  },
};
