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
import { liquidationSide } from './catalog/v6-liquidation-side.js';
import { streamSilence } from './catalog/t5-silence.js';
import { quoteSequence } from './catalog/q2-quote-sequence.js';
import { bookChecksum } from './catalog/q5-book-checksum.js';
import { spikeRevert } from './catalog/a3-spike-revert.js';
import { volumeSpike } from './catalog/a4-volume-spike.js';
import { messageRate } from './catalog/a5-message-rate.js';
import { frozenPrice } from './catalog/a6-frozen-price.js';
import { venueDeviation } from './catalog/x1-venue-deviation.js';
import { referenceQuorum } from './catalog/x2-reference-quorum.js';
import { tradeVsReference } from './catalog/x3-trade-vs-reference.js';
import { perpVsIndex } from './catalog/x4-perp-vs-index.js';
import { oneSidedBook } from './catalog/m4-one-sided-book.js';
import { depthCollapse } from './catalog/m5-depth-collapse.js';
import { takerImbalance } from './catalog/c3-taker-imbalance.js';
import { volatilityBurst } from './catalog/c5-volatility-burst.js';
import { marketBreadth } from './catalog/c6-market-breadth.js';
import { marketLiquidations } from './catalog/c7-market-liquidations.js';

/**
 * Every check the workers run, in evaluation order. Schema checks (S1-S4: decodes, required
 * fields, finite numbers, enumerations) run in the decoder: a message that fails them never
 * becomes an event and goes to the dead-letter topic. T7 runs first: it restarts baselines;
 * C6 runs after C4, whose measured move it reads.
 */
export const ALL_CHECKS: readonly Check[] = [
  gapReset,
  positivePrice, positiveSize, notionalLimit, priceBand, liquidationSide, offBookPrint,
  timestampRange, clockSkew, lateData, outOfOrder, streamSilence, staleOnSubscribe,
  binanceDepthSequence, quoteSequence, prevSeqContinuity, sequenceBackwards, bookChecksum, duplicateTrade, tradeIdGap, deltaBeforeSnapshot,
  crossedBook, tradeOutsideQuote, spreadBlowout, oneSidedBook, depthCollapse,
  madOutlier, returnZScore, spikeRevert, volumeSpike, messageRate, frozenPrice,
  venueDeviation, referenceQuorum, tradeVsReference, perpVsIndex,
  liquidationBurst, oneSidedLiquidations, takerImbalance, fastMove, volatilityBurst, marketBreadth, marketLiquidations,
];

export function checkByBit(bit: number): Check | undefined {
  return ALL_CHECKS.find((c) => c.bit === bit);
}

export function checkById(id: string): Check | undefined {
  return ALL_CHECKS.find((c) => c.id === id);
}
