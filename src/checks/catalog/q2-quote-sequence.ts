import type { Check } from '../check.js';

export const quoteSequence: Check = {
  id: 'Q2', bit: 27, group: 'sequence', severity: 'flag', keeps: 'the last quote update id',
  description: 'best bid/ask sequence (Coinbase ticker `sequence`, Binance bookTicker `u`, Bybit `cross_seq`) must increase: a repeated or older id is a stale or replayed quote',
  thresholds: {},
  evaluate: {
    quote(e, s) {
      if (e.updateId === undefined) return false;
      const last = s.lastQuoteId;
      if (e.updateId > last) { s.lastQuoteId = e.updateId; return false; }
      s.lastValue = e.updateId; s.lastThreshold = last;
      return true;
    },
  },
};
