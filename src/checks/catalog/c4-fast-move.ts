import { threshold, type Check } from '../check.js';

export const fastMove: Check = {
  id: 'C4', bit: 24, group: 'cascade', severity: 'flag', keeps: 'monotonic deques of the window\'s highest and lowest trade prices',
  description: 'fast move: trade price at least maxDropBp below the highest price of the last windowMs (also records the signed move C6 reads)',
  thresholds: {
    windowMs: threshold(60_000, 'look-back window', 1),
    maxDropBp: threshold(100, 'drop from the window high, in basis points', 1),
  },
  evaluate: {
    trade(e, s, t) {
      if (!(e.price > 0)) return false;
      s.high.trim(s, t.windowMs!);
      s.low.trim(s, t.windowMs!);
      const high = s.high.value;
      const low = s.low.value;
      if (!(high > 0) || !(low > 0)) return false;
      const dropBp = ((high - e.price) / high) * 10_000;
      const riseBp = ((e.price - low) / low) * 10_000;
      s.moveBp = dropBp >= riseBp ? -dropBp : riseBp;
      if (dropBp < t.maxDropBp!) return false;
      s.lastValue = dropBp; s.lastThreshold = t.maxDropBp!;
      return true;
    },
  },
};
