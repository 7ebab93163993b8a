import type { SharedReference } from './reference.js';

export type ReferenceSlotKind = 'instrument' | 'venue';

/** A kind of slot the reference ran out of: what to tell the operator. */
export interface ReferenceRefusal {
  kind: ReferenceSlotKind;
  /** Streams refused a slot of this kind so far. */
  refused: number;
  /** The first instrument key or venue refused. */
  first: string;
  /** The kind's slots, and the key that sets them. */
  slots: number;
  configKey: 'checks.referenceInstruments' | 'checks.referenceVenues';
}

/**
 * Turns the reference's refusal counts (kept in shared memory by the workers that were refused)
 * into what the pipeline reports: the refusals since the last poll, for the counter, and a
 * warning per kind when it has new refusals, at most one per kind every `warnEveryMs`, so a
 * full table is said, not repeated for each new stream.
 */
export class ReferenceRefusals {
  private readonly counted: Record<ReferenceSlotKind, number> = { instrument: 0, venue: 0 };
  private readonly warned: Record<ReferenceSlotKind, { at: number; refused: number }> = { instrument: { at: -Infinity, refused: 0 }, venue: { at: -Infinity, refused: 0 } };

  constructor(private readonly reference: SharedReference, private readonly warnEveryMs = 60_000) {}

  /** New refusals by kind since the last poll, and the warnings due at `nowMs`. */
  poll(nowMs: number): { added: Record<ReferenceSlotKind, number>; warnings: ReferenceRefusal[] } {
    const r = this.reference;
    const totals: Record<ReferenceSlotKind, number> = { instrument: r.refusedInstruments, venue: r.refusedVenues };
    const added = { instrument: totals.instrument - this.counted.instrument, venue: totals.venue - this.counted.venue };
    this.counted.instrument = totals.instrument;
    this.counted.venue = totals.venue;
    const warnings: ReferenceRefusal[] = [];
    for (const kind of ['instrument', 'venue'] as const) {
      const w = this.warned[kind];
      if (totals[kind] === w.refused || nowMs - w.at < this.warnEveryMs) continue;
      w.at = nowMs;
      w.refused = totals[kind];
      warnings.push(kind === 'instrument'
        ? { kind, refused: totals[kind], first: r.firstRefusedInstrument, slots: r.capacity, configKey: 'checks.referenceInstruments' }
        : { kind, refused: totals[kind], first: r.firstRefusedVenue, slots: r.venues, configKey: 'checks.referenceVenues' });
    }
    return { added, warnings };
  }
}
