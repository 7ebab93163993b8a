import type { MarketEvent } from '../codec/event.js';

export type Severity = 'reject' | 'flag' | 'resync';

/**
 * A data-quality check. `evaluate` runs on the worker thread that owns the event's partition,
 * once per event, and must not allocate in the steady state. It returns true when the event
 * fails the check; `value` and `threshold` of the last failure may be read back from
 * `lastValue` / `lastThreshold` for reporting.
 */
export interface Check {
  /** Stable id from the catalog (`V1`, `M1`, ...). */
  readonly id: string;
  /** Bit in the verdict's failed-checks set; unique, below 64. */
  readonly bit: number;
  readonly description: string;
  readonly severity: Severity;
  evaluate(event: MarketEvent, nowUs: number): boolean;
}
