import type { Check } from '../check.js';
import type { Level, LiquidationEvent, TradeEvent } from '../../codec/event.js';

// One judge for both: each shape has `price`, so the read stays unboxed (see `Judges`).
const badPrice = (e: TradeEvent | LiquidationEvent) => !(e.price > 0);

function badLevelPrice(levels: readonly Level[]): boolean {
  for (let i = 0; i < levels.length; i++) if (!(levels[i]![0] > 0)) return true;
  return false;
}

export const positivePrice: Check = {
  id: 'V1', bit: 0, group: 'value', severity: 'reject', keeps: 'nothing',
  description: 'price > 0 (trades, liquidations, both sides of a quote, book levels)',
  thresholds: {},
  evaluate: {
    trade: badPrice,
    liquidation: badPrice,
    quote: (e) => !(e.bid > 0) || !(e.ask > 0),
    book: (e) => badLevelPrice(e.bids) || badLevelPrice(e.asks),
  },
};
