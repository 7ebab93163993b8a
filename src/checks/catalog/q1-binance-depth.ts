import type { Check } from '../check.js';
import { BINANCE_FUTURES, BINANCE_SPOT } from '../state.js';

/**
 * Binance diff-depth rules (docs; spot rules for binance and binance-us, futures rules for
 * binance-futures and binance-coinm: `SymbolState.binanceDepth`): after a REST snapshot with lastUpdateId, drop deltas with
 * u <= lastUpdateId; the first delta must bridge it (spot: U <= lastUpdateId+1 <= u; futures:
 * U <= lastUpdateId <= u); then spot needs U == previous u + 1, futures pu == previous u.
 */
export const binanceDepthSequence: Check = {
  id: 'Q1', bit: 11, group: 'sequence', severity: 'resync', keeps: 'last applied update id, whether the snapshot is bridged',
  description: 'Binance depth: first delta bridges the snapshot, then U == previous u + 1 (spot) or pu == previous u (futures)',
  thresholds: {},
  evaluate: {
    book(e, s) {
      if (e.action !== 'delta' || !s.bookSynced) return false;
      const rules = s.binanceDepth;
      if (rules === 0) return false;
      if (s.repeatsLastDelta(e)) return false;
      const last = s.bookSeq;
      // Older than the snapshot or already applied: dropped, not an error (spot: u <= lastUpdateId;
      // futures: u < lastUpdateId, the bridging event may end exactly at it).
      if (rules === BINANCE_SPOT ? e.seq <= last : e.seq < last) return false;
      const first = e.firstSeq ?? e.seq;
      let ok: boolean;
      if (!s.bookBridged) ok = rules === BINANCE_SPOT ? first <= last + 1 && last + 1 <= e.seq : first <= last && last <= e.seq;
      else ok = rules === BINANCE_FUTURES && e.prevSeq !== undefined ? e.prevSeq === last : first === last + 1;
      if (ok) {
        s.bookBridged = true;
        return false;
      }
      s.lastValue = first; s.lastThreshold = last + 1;
      return true;
    },
  },
};
