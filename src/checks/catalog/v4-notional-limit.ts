import { threshold, type Check, type Judge } from '../check.js';
import type { LiquidationEvent, TradeEvent } from '../../codec/event.js';

// One judge for both: each shape has `price` and `size`, so the reads stay unboxed (see `Judges`).
const tooLarge: Judge<TradeEvent | LiquidationEvent> = (e, s, t) => {
  const notional = e.price * e.size;
  if (notional <= t.maxNotional!) return false;
  s.lastValue = notional; s.lastThreshold = t.maxNotional!;
  return true;
};

export const notionalLimit: Check = {
  id: 'V4', bit: 2, group: 'value', severity: 'reject', keeps: 'nothing',
  description: 'trade and liquidation notional (price x size) within the venue limit',
  // Bybit's legacy inverse contracts (BTCUSD) quote size in USD contracts, so price x size
  // overstates the notional by the price: its venue default is scaled up accordingly.
  thresholds: { maxNotional: threshold(1e9, 'largest plausible price x size of one print', 1, Number.MAX_SAFE_INTEGER, { bybit: 1e14 }) },
  evaluate: { trade: tooLarge, liquidation: tooLarge },
};
