import { threshold, type Check } from '../check.js';

/**
 * A bad print is only recognisable once the next trade comes back: the check fires on the
 * trade that reveals the spike, with the spike's size, and the stored data marks where it was.
 */
export const spikeRevert: Check = {
  id: 'A3', bit: 29, group: 'statistics', severity: 'flag', keeps: 'the last two trade prices (outliers included)',
  description: 'spike that reverts within one tick: the previous trade jumped at least minMoveBp from the one before and this trade returns within revertShare of the jump (the previous trade was a bad print)',
  thresholds: {
    minMoveBp: threshold(100, 'size of the jump, bp', 1),
    revertShare: threshold(0.25, 'how close to the pre-jump price this trade must come back, as a share of the jump', 0, 1),
  },
  evaluate: {
    trade(e, s, t) {
      const p0 = s.rawPrice0;
      const p1 = s.rawPrice1;
      if (!(p0 > 0) || !(p1 > 0)) return false;
      const jump = p1 - p0;
      const jumpBp = (Math.abs(jump) / p0) * 10_000;
      if (jumpBp < t.minMoveBp!) return false;
      const back = e.price - p0;
      if (Math.abs(back) > t.revertShare! * Math.abs(jump) || (jump > 0 ? e.price >= p1 : e.price <= p1)) return false;
      s.lastValue = jumpBp; s.lastThreshold = t.minMoveBp!;
      return true;
    },
  },
};
