import { threshold, type Check, type Judge } from '../check.js';

const offIndex: Judge = (_e, s, t) => {
  if (!s.isPerp || s.ref === undefined || s.spotInstrument < 0) return false;
  // A trade's price or a quote's mid (staged by the engine).
  const price = s.eventPrice;
  if (!(price > 0)) return false;
  const q = s.ref.median(s.spotInstrument, -1, s, t.maxAgeMs!);
  if (q.venues < t.minVenues!) return false;
  const basisBp = (Math.abs(price - q.median) / q.median) * 10_000;
  if (basisBp <= t.maxBp!) return false;
  s.lastValue = basisBp; s.lastThreshold = t.maxBp!;
  return true;
};

export const perpVsIndex: Check = {
  id: 'X4', bit: 36, group: 'cross-venue', severity: 'flag', keeps: 'reads the shared reference of the spot instrument',
  description: 'perpetual swap price (trade, or quote mid) farther than maxBp from its index: the median of the spot venues\' prices of the same pair',
  thresholds: {
    maxBp: threshold(100, 'basis that flags, bp', 1),
    maxAgeMs: threshold(2_000, 'spot prices older than this (exchange time) are left out', 1),
    minVenues: threshold(2, 'spot venues needed for an index', 1, 8),
  },
  evaluate: { trade: offIndex, quote: offIndex },
};
