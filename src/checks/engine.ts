import { Verdict, type MarketEvent } from '../codec/event.js';
import type { Check } from './check.js';

/** Outcome of all checks on one event. Reused: `evaluate` overwrites it, never allocates. */
export interface CheckOutcome {
  verdict: Verdict;
  /** Failed-check bits 0..31 and 32..63. */
  failedLo: number;
  failedHi: number;
  /** 1 - (failed checks weighted by severity), floored at 0. */
  score: number;
}

const REJECT_WEIGHT = 1;
const FLAG_WEIGHT = 0.25;

export class CheckEngine {
  private readonly checks: readonly Check[];
  readonly outcome: CheckOutcome = { verdict: Verdict.ACCEPTED, failedLo: 0, failedHi: 0, score: 1 };

  constructor(checks: readonly Check[]) {
    const bits = new Set<number>();
    for (const c of checks) {
      if (c.bit < 0 || c.bit > 63 || bits.has(c.bit)) throw new Error(`check ${c.id}: bit ${c.bit} is out of range or taken`);
      bits.add(c.bit);
    }
    this.checks = checks;
  }

  evaluate(event: MarketEvent, nowUs: number): CheckOutcome {
    let lo = 0;
    let hi = 0;
    let penalty = 0;
    let verdict: Verdict = Verdict.ACCEPTED;
    for (let i = 0; i < this.checks.length; i++) {
      const check = this.checks[i]!;
      if (!check.evaluate(event, nowUs)) continue;
      if (check.bit < 32) lo |= 1 << check.bit;
      else hi |= 1 << (check.bit - 32);
      if (check.severity === 'reject') {
        verdict = Verdict.REJECTED;
        penalty += REJECT_WEIGHT;
      } else {
        if (verdict === Verdict.ACCEPTED) verdict = Verdict.FLAGGED;
        penalty += FLAG_WEIGHT;
      }
    }
    const o = this.outcome;
    o.verdict = verdict;
    o.failedLo = lo >>> 0;
    o.failedHi = hi >>> 0;
    o.score = penalty >= 1 ? 0 : 1 - penalty;
    return o;
  }
}
