import type { Check } from '../check.js';

export const positiveSize: Check = {
  id: 'V2', bit: 1, group: 'value', severity: 'reject', keeps: 'nothing',
  description: 'size > 0 for trades and liquidations; book sizes >= 0 (0 deletes a level)',
  thresholds: {},
  evaluate(e) {
    if (e.type === 'trade' || e.type === 'liquidation') return !(e.size > 0);
    if (e.type === 'book') {
      for (let i = 0; i < e.bids.length; i++) if (!(e.bids[i]![1] >= 0)) return true;
      for (let i = 0; i < e.asks.length; i++) if (!(e.asks[i]![1] >= 0)) return true;
    }
    return false;
  },
};
