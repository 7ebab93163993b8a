import { threshold, type Check } from '../check.js';

export const oneSidedLiquidations: Check = {
  id: 'C2', bit: 23, group: 'cascade', severity: 'flag', keeps: 'side and length of the current liquidation run',
  description: 'one-sided liquidation run: minRun consecutive liquidations of the same position side',
  thresholds: { minRun: threshold(20, 'consecutive liquidations of one side', 2) },
  evaluate: {
    liquidation(e, s, t) {
      const side = e.posSide === 'long' ? 1 : -1;
      if (side === s.liqRunSide) s.liqRunLength++;
      else { s.liqRunSide = side; s.liqRunLength = 1; }
      if (s.liqRunLength < t.minRun!) return false;
      s.lastValue = s.liqRunLength * side; s.lastThreshold = t.minRun!;
      return true;
    },
  },
};
