import type { Check } from '../check.js';
import type { Level, LiquidationEvent, TradeEvent } from '../../codec/event.js';

// One judge for both: each shape has `size`, so the read stays unboxed (see `Judges`).
const badSize = (e: TradeEvent | LiquidationEvent) => !(e.size > 0);

function badLevelSize(levels: readonly Level[]): boolean {
  for (let i = 0; i < levels.length; i++) if (!(levels[i]![1] >= 0)) return true;
  return false;
}

export const positiveSize: Check = {
  id: 'V2', bit: 1, group: 'value', severity: 'reject', keeps: 'nothing',
  description: 'size > 0 for trades and liquidations; book sizes >= 0 (0 deletes a level)',
  thresholds: {},
  evaluate: {
    trade: badSize,
    liquidation: badSize,
    book: (e) => badLevelSize(e.bids) || badLevelSize(e.asks),
  },
};
