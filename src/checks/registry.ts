import type { Check } from './check.js';
import { positivePrice } from './catalog/v1-positive-price.js';
import { positiveSize } from './catalog/v2-positive-size.js';
import { notionalLimit } from './catalog/v4-notional-limit.js';
import { priceBand } from './catalog/v5-price-band.js';
import { offBookPrint } from './catalog/v7-off-book.js';
import { timestampRange } from './catalog/t1-timestamp-range.js';
import { clockSkew } from './catalog/t2-clock-skew.js';
import { lateData } from './catalog/t3-late-data.js';
import { outOfOrder } from './catalog/t4-out-of-order.js';
import { staleOnSubscribe } from './catalog/t6-stale-on-subscribe.js';
import { gapReset } from './catalog/t7-gap-reset.js';
import { binanceDepthSequence } from './catalog/q1-binance-depth.js';
import { prevSeqContinuity } from './catalog/q3-prev-seq.js';
import { sequenceBackwards } from './catalog/q4-seq-backwards.js';
import { duplicateTrade } from './catalog/q6-duplicate-trade.js';
import { tradeIdGap } from './catalog/q7-trade-id-gap.js';
import { deltaBeforeSnapshot } from './catalog/q8-delta-before-snapshot.js';
import { crossedBook } from './catalog/m1-crossed.js';
import { tradeOutsideQuote } from './catalog/m2-trade-outside-quote.js';
import { spreadBlowout } from './catalog/m3-spread-blowout.js';
import { madOutlier } from './catalog/a1-mad-outlier.js';
import { returnZScore } from './catalog/a2-return-zscore.js';
import { liquidationBurst } from './catalog/c1-liquidation-burst.js';
import { oneSidedLiquidations } from './catalog/c2-one-sided-liquidations.js';
import { fastMove } from './catalog/c4-fast-move.js';

/**
 * Every check the workers run, in evaluation order. Schema checks (S1-S4: decodes, required
 * fields, finite numbers, enumerations) run in the decoder: a message that fails them never
 * becomes an event and goes to the dead-letter topic. T7 runs first: it restarts baselines.
 */
export const ALL_CHECKS: readonly Check[] = [
  gapReset,
  positivePrice, positiveSize, notionalLimit, priceBand, offBookPrint,
  timestampRange, clockSkew, lateData, outOfOrder, staleOnSubscribe,
  binanceDepthSequence, prevSeqContinuity, sequenceBackwards, duplicateTrade, tradeIdGap, deltaBeforeSnapshot,
  crossedBook, tradeOutsideQuote, spreadBlowout,
  madOutlier, returnZScore,
  liquidationBurst, oneSidedLiquidations, fastMove,
];

export function checkByBit(bit: number): Check | undefined {
  return ALL_CHECKS.find((c) => c.bit === bit);
}

export function checkById(id: string): Check | undefined {
  return ALL_CHECKS.find((c) => c.id === id);
}
