import { threshold, type Check, type Judge } from '../check.js';

const deviation: Judge = (_e, s, t) => {
  if (s.ref === undefined || s.refEntry < 0) return false;
  // This venue's price: a quote's mid, or a synced book's (staged by the engine).
  const price = s.eventPrice;
  if (!(price > 0)) return false;
  const q = s.ref.median(s.refInstrument, s.refEntry, s, t.maxAgeMs!);
  if (q.venues < t.minVenues!) return false;
  const devBp = (Math.abs(price - q.median) / q.median) * 10_000;
  if (devBp >= t.excludeBp!) { if (!s.ref.isExcluded(s.refEntry)) s.ref.setExcluded(s.refEntry, true); }
  else if (devBp < t.flagBp! / 2 && s.ref.isExcluded(s.refEntry)) s.ref.setExcluded(s.refEntry, false);
  if (devBp < t.flagBp!) return false;
  s.lastValue = devBp; s.lastThreshold = t.flagBp!;
  return true;
};

export const venueDeviation: Check = {
  id: 'X1', bit: 33, group: 'cross-venue', severity: 'flag', keeps: 'an entry in the shared cross-venue reference (price, time, excluded)',
  description: 'deviation of this venue\'s mid from the median of the other venues\' (fresh, not excluded) for the same instrument; at excludeBp the venue leaves the reference until it is back within flagBp / 2',
  thresholds: {
    flagBp: threshold(30, 'deviation that flags, bp', 1),
    excludeBp: threshold(100, 'deviation that takes the venue out of the reference, bp', 1),
    maxAgeMs: threshold(2_000, 'other venues\' prices older than this (exchange time) are left out', 1),
    minVenues: threshold(2, 'other venues needed for a median', 1, 7),
  },
  evaluate: { quote: deviation, book: deviation },
};
