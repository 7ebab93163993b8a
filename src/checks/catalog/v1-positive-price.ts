import type { Check } from '../check.js';

export const positivePrice: Check = {
  id: 'V1', bit: 0, group: 'value', severity: 'reject', keeps: 'nothing',
  description: 'price > 0 (trades, liquidations, both sides of a quote, book levels)',
  thresholds: {},
  evaluate(e) {
    switch (e.type) {
      case 'trade': case 'liquidation': return !(e.price > 0);
      case 'quote': return !(e.bid > 0) || !(e.ask > 0);
      case 'book': {
        for (let i = 0; i < e.bids.length; i++) if (!(e.bids[i]![0] > 0)) return true;
        for (let i = 0; i < e.asks.length; i++) if (!(e.asks[i]![0] > 0)) return true;
        return false;
      }
    }
  },
};
