import type { EventType, MarketEvent } from '../codec/event.js';
import type { SymbolState, Thresholds } from './state.js';

/** reject: never reaches the latest view; flag: stored and published with the flag; resync: the book is unsynced until a snapshot. */
export type Severity = 'reject' | 'flag' | 'resync';

export type CheckGroup = 'value' | 'time' | 'sequence' | 'statistics' | 'cross-venue' | 'microstructure' | 'cascade';

export interface ThresholdSpec {
  default: number;
  description: string;
  min: number;
  max: number;
  /** Venue-specific defaults (e.g. which venues number their trades contiguously). */
  venues?: Record<string, number>;
}

/** Threshold values of one check for one venue and symbol, resolved once per symbol. */
export type { Thresholds } from './state.js';

/** The event of one type. */
export type EventOf<T extends EventType> = Extract<MarketEvent, { type: T }>;

/**
 * Judges one event: true when it fails. Runs on the worker thread that owns the event's
 * partition, in partition order, and must not allocate in the steady state. It may write what it
 * measured to `state.lastValue` / `state.lastThreshold` for reporting (cascade stream, tests).
 */
export type Judge<E extends MarketEvent = MarketEvent> = (e: E, s: SymbolState, t: Thresholds, nowUs: number) => boolean;

/**
 * A check's judge per event type it examines; events of the other types pass. One function per
 * type on purpose: the engine calls every judge from one call site that sees dozens of them, so
 * V8 inlines none and compiles each on its own, with type feedback from one event shape. Its
 * reads of that shape's numbers (`price`, `bid`) then stay unboxed; the same read in a function
 * that has seen every shape yields `undefined` for the shapes without the field, and the merged
 * value is a boxed number: one allocation per read.
 */
export type Judges = { readonly [T in EventType]?: Judge<EventOf<T>> };

/** The same judge for every event type, for checks that read only what all events have (times). */
export function everyEvent(judge: Judge): Judges {
  return { trade: judge, quote: judge, liquidation: judge, book: judge };
}

/** A data-quality check: what it is, and its judges. */
export interface Check {
  /** Stable id from the catalog (`V1`, `T2`, ...). */
  readonly id: string;
  /** Bit in the verdict's failed-checks set; unique, below 64. */
  readonly bit: number;
  readonly group: CheckGroup;
  readonly severity: Severity;
  readonly description: string;
  /** What the check remembers per symbol (documentation). */
  readonly keeps: string;
  readonly thresholds: Readonly<Record<string, ThresholdSpec>>;
  readonly evaluate: Judges;
}

export function threshold(def: number, description: string, min = 0, max = Number.MAX_SAFE_INTEGER, venues?: Record<string, number>): ThresholdSpec {
  return venues === undefined ? { default: def, description, min, max } : { default: def, description, min, max, venues };
}

/** The verdict's bit set of the checks `pick` selects, as the low and high 32-bit words. */
export function checkMask(checks: readonly Check[], pick: (c: Check) => boolean): { lo: number; hi: number } {
  let lo = 0;
  let hi = 0;
  for (const c of checks) {
    if (!pick(c)) continue;
    if (c.bit < 32) lo |= 1 << c.bit;
    else hi |= 1 << (c.bit - 32);
  }
  return { lo: lo >>> 0, hi: hi >>> 0 };
}

/** Whether `bit` is set in a failed-checks set split into low and high words. */
export function hasCheckBit(lo: number, hi: number, bit: number): boolean {
  return (bit < 32 ? (lo >>> bit) & 1 : (hi >>> (bit - 32)) & 1) === 1;
}
