import type { Check } from '../check.js';

export const duplicateTrade: Check = {
  id: 'Q6', bit: 14, group: 'sequence', severity: 'reject', keeps: 'the last 1,024 trade ids (ring + hash table)',
  description: 'duplicate trade id for the venue and symbol (keyed by id, never by payload)',
  thresholds: {},
  evaluate: { trade: (e, s) => !s.rememberTradeId(e.id) },
};
