import { threshold, type Check } from '../check.js';

export const tradeOutsideQuote: Check = {
  id: 'M2', bit: 18, group: 'microstructure', severity: 'flag', keeps: 'last best bid and ask',
  description: 'trade outside a recent bid/ask by more than max(maxSpreads spreads, minMarginBp of the price) (normal when the quote lags: flag only)',
  // A quote older than maxQuoteAgeMs (exchange time) says little about where trades may print:
  // throttled ticker channels (OKX) would otherwise flag most trades. Within that age a fast
  // market still moves: on OKX BTC-USDT (2022-05-13) trades printed up to 148 one-tick spreads
  // (5 bp) beyond a 100-300 ms old ticker, 40 of 74 trades with a margin of one spread alone;
  // the margin's floor in basis points keeps one-tick spreads from making every move a flag.
  thresholds: {
    maxSpreads: threshold(1, 'distance beyond the quote, in spreads', 0),
    minMarginBp: threshold(10, 'the distance allowed is at least this, in basis points of the price', 0),
    maxQuoteAgeMs: threshold(500, 'only quotes at most this old (exchange time) are compared', 0),
  },
  evaluate: {
    trade(e, s, t) {
      if (!(s.bid > 0) || !(s.ask >= s.bid)) return false;
      if (Math.abs(e.ts - s.quoteTs) > t.maxQuoteAgeMs! * 1000) return false;
      const spread = s.ask - s.bid;
      const margin = Math.max(t.maxSpreads! * spread, (t.minMarginBp! / 10_000) * e.price);
      if (e.price <= s.ask + margin && e.price >= s.bid - margin) return false;
      // Separate stores: `c ? x : Infinity` would box x (see state.ts).
      if (spread > 0) s.lastValue = (e.price > s.ask ? e.price - s.ask : s.bid - e.price) / spread;
      else s.lastValue = Infinity;
      s.lastThreshold = t.maxSpreads!;
      return true;
    },
  },
};
