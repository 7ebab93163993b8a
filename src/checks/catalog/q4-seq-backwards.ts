import type { Check } from '../check.js';

export const sequenceBackwards: Check = {
  id: 'Q4', bit: 13, group: 'sequence', severity: 'resync', keeps: 'last book sequence',
  description: 'book sequence went backwards (Bybit u / cross_seq, OKX seqId); a new snapshot resets it',
  thresholds: {},
  evaluate: {
    book(e, s) {
      if (e.action !== 'delta' || !s.bookSynced || e.seq <= 0) return false;
      if (s.binanceDepth !== 0) return false; // Q1 owns Binance's rules
      if (s.repeatsLastDelta(e)) return false;
      if (e.seq >= s.bookSeq) return false;
      s.lastValue = e.seq; s.lastThreshold = s.bookSeq;
      return true;
    },
  },
};
