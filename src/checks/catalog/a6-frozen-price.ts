import { threshold, type Check } from '../check.js';

export const frozenPrice: Check = {
  id: 'A6', bit: 32, group: 'statistics', severity: 'flag', keeps: 'the repeated mid, since when, how often, and the cross-venue reference when it froze',
  description: 'frozen price: the same mid for at least minUpdates quotes and minDurationMs while the other venues\' reference moved at least refMoveBp',
  thresholds: {
    minUpdates: threshold(30, 'quotes with the same mid', 2),
    minDurationMs: threshold(60_000, 'how long the mid stayed the same', 1),
    refMoveBp: threshold(20, 'move of the cross-venue reference meanwhile, bp', 1),
    maxAgeMs: threshold(2_000, 'reference venues older than this are left out', 1),
  },
  evaluate: {
    quote(e, s, t) {
      if (s.ref === undefined) return false;
      const mid = (e.bid + e.ask) / 2;
      const ref = s.ref.median(s.refInstrument, s.refEntry, s, t.maxAgeMs!).median;
      if (mid !== s.frozenPrice) {
        s.frozenPrice = mid;
        s.frozenSinceTs = e.ts;
        s.frozenCount = 1;
        s.frozenRef = ref;
        return false;
      }
      s.frozenCount++;
      if (Number.isNaN(s.frozenRef)) s.frozenRef = ref;
      if (s.frozenCount < t.minUpdates! || e.ts - s.frozenSinceTs < t.minDurationMs! * 1000 || !(ref > 0) || !(s.frozenRef > 0)) return false;
      const movedBp = (Math.abs(ref - s.frozenRef) / s.frozenRef) * 10_000;
      if (movedBp < t.refMoveBp!) return false;
      s.lastValue = movedBp; s.lastThreshold = t.refMoveBp!;
      return true;
    },
  },
};
