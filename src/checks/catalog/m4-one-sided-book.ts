import type { Check } from '../check.js';

export const oneSidedBook: Check = {
  id: 'M4', bit: 37, group: 'microstructure', severity: 'flag', keeps: 'the order book (shared with Q5, M5)',
  description: 'empty or one-sided book: a synced book with no bids or no asks (best bid/ask feeds are not judged: some venues send size 0 for "not given")',
  thresholds: {},
  evaluate: {
    book(e, s) {
      if (s.book === undefined || (e.action === 'delta' && !s.bookSynced)) return false;
      if (s.book.bids.length > 0 && s.book.asks.length > 0) return false;
      s.lastValue = Math.min(s.book.bids.length, s.book.asks.length); s.lastThreshold = 0;
      return true;
    },
  },
};
