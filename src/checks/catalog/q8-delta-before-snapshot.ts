import type { Check } from '../check.js';

export const deltaBeforeSnapshot: Check = {
  id: 'Q8', bit: 16, group: 'sequence', severity: 'resync', keeps: 'whether the book is synced',
  description: 'book delta while the book is not synced (before any snapshot, or after a resync)',
  thresholds: {},
  evaluate: { book: (e, s) => e.action === 'delta' && !s.bookSynced },
};
