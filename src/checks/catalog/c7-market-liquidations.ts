import { threshold, type Check } from '../check.js';

/**
 * A cascade that spreads over many symbols, each below C1's per-symbol notional, is still a
 * cascade. The sums are made by the main thread's sweep over the shared reference (every
 * stream's C1 window sum, per venue and over all venues; `SharedReference.sweep`), so they
 * cover the symbols of every worker; this check flags the liquidations that arrive while one of
 * them is at or above its threshold.
 */
export const marketLiquidations: Check = {
  id: 'C7', bit: 42, group: 'cascade', severity: 'flag', keeps: 'nothing (C1\'s window sum is published to the shared reference)',
  description: 'market-wide liquidation cascade: notional liquidated over C1\'s window on the event\'s venue (all its symbols) at or above minVenueNotional, or on every venue at or above minMarketNotional, as of the last sweep',
  thresholds: {
    minVenueNotional: threshold(1_000_000, 'liquidated notional of one venue, all symbols (quote currency)', 0),
    minMarketNotional: threshold(2_000_000, 'liquidated notional of every venue (quote currency)', 0),
  },
  evaluate: {
    liquidation(_e, s, t) {
      if (s.ref === undefined || s.refEntry < 0) return false;
      const market = s.ref.liquidatedMarket;
      if (market >= t.minMarketNotional!) {
        s.lastValue = market; s.lastThreshold = t.minMarketNotional!;
        return true;
      }
      const venue = s.ref.liquidatedVenue(s.refEntry);
      if (venue < t.minVenueNotional!) return false;
      s.lastValue = venue; s.lastThreshold = t.minVenueNotional!;
      return true;
    },
  },
};
