import type { Check } from '../check.js';

export const offBookPrint: Check = {
  id: 'V7', bit: 4, group: 'value', severity: 'flag', keeps: 'nothing',
  description: 'off-book print (insurance fund, ADL, block trade): not a market price, excluded from price statistics',
  thresholds: {},
  evaluate: { trade: (e) => e.offBook === true },
};
