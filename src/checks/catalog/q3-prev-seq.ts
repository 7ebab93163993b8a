import type { Check } from '../check.js';

export const prevSeqContinuity: Check = {
  id: 'Q3', bit: 12, group: 'sequence', severity: 'resync', keeps: 'last book sequence',
  description: 'book update continuity where the venue sends the previous sequence (OKX prevSeqId == previous seqId)',
  thresholds: {},
  evaluate: {
    book(e, s) {
      if (e.action !== 'delta' || !s.bookSynced || e.prevSeq === undefined) return false;
      if (s.binanceDepth !== 0) return false; // Q1 owns Binance's rules
      if (s.repeatsLastDelta(e)) return false;
      if (e.prevSeq === s.bookSeq) return false;
      s.lastValue = e.prevSeq; s.lastThreshold = s.bookSeq;
      return true;
    },
  },
};
