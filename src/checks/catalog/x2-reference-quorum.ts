import { threshold, type Check, type Judge } from '../check.js';

const quorumLost: Judge = (_e, s, t) => {
  if (s.ref === undefined || s.refEntry < 0) return false;
  if (s.ref.knownVenues(s.refInstrument) < t.quorum!) return false;
  const fresh = s.ref.median(s.refInstrument, s.refEntry, s, t.maxAgeMs!).venues + (s.ref.isExcluded(s.refEntry) ? 0 : 1);
  if (fresh >= t.quorum!) return false;
  s.lastValue = fresh; s.lastThreshold = t.quorum!;
  return true;
};

export const referenceQuorum: Check = {
  id: 'X2', bit: 34, group: 'cross-venue', severity: 'flag', keeps: 'reads the shared cross-venue reference',
  description: 'reference quorum lost: the instrument is quoted by at least quorum venues, but fewer than quorum (this one included) have a fresh, non-excluded price',
  thresholds: {
    quorum: threshold(3, 'venues a trustworthy reference needs', 2, 8),
    maxAgeMs: threshold(2_000, 'a venue\'s price older than this (exchange time) is stale', 1),
  },
  evaluate: { trade: quorumLost, quote: quorumLost },
};
