import { threshold, type Check } from '../check.js';

/**
 * The breadth itself is computed by the main thread's sweep over the shared reference (every
 * instrument's move, as C4 measured it); this check flags the trades of instruments moving with
 * the crowd.
 */
export const marketBreadth: Check = {
  id: 'C6', bit: 41, group: 'cascade', severity: 'flag', keeps: 'this instrument\'s move (from C4) in the shared reference',
  description: 'market-wide move: at least minShare of the instruments with fresh prices moved moveBp or more the same way over C4\'s window, and this one did too',
  thresholds: {
    moveBp: threshold(100, 'move that counts an instrument in, bp (the sweep uses the global value)', 1),
    minShare: threshold(0.3, 'share of instruments moving together', 0, 1),
    minInstruments: threshold(5, 'instruments with fresh prices needed before the check applies', 1),
  },
  evaluate: {
    trade(e, s, t) {
      if (s.ref === undefined || Number.isNaN(s.moveBp)) return false;
      if (s.ref.activeInstruments < t.minInstruments!) return false;
      let share: number;
      if (s.moveBp <= -t.moveBp!) share = s.ref.breadthDown;
      else if (s.moveBp >= t.moveBp!) share = s.ref.breadthUp;
      else return false;
      if (share < t.minShare!) return false;
      s.lastValue = share; s.lastThreshold = t.minShare!;
      return true;
    },
  },
};
