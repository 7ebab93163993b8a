import type { MarketEvent } from '../../src/codec/event.js';
import type { JsonVerdict } from '../../src/sinks/event-json.js';

/**
 * The stored event JSON by its definition: `JSON.stringify` of the canonical event with the
 * verdict fields appended (what the worker wrote before `writeEventJson`).
 */
export function referenceEventJson(e: MarketEvent, o: JsonVerdict): string {
  return JSON.stringify(e).slice(0, -1) + ',"verdict":' + JSON.stringify(o.verdict) + ',"failed":' + JSON.stringify(o.failedHi * 4294967296 + o.failedLo)
    + ',"score":' + JSON.stringify(o.score) + '}';
}

/** The venue's event key by its definition (see `writeEventKey`). */
export function referenceEventKey(e: MarketEvent): string {
  switch (e.type) {
    case 'trade': return 't:' + e.id;
    case 'quote': return 'q:' + String(e.updateId ?? e.ts);
    case 'liquidation': return 'l:' + (e.id ?? String(e.ts));
    case 'book': return 'b:' + String(e.seq);
  }
}
