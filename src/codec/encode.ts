import { Packr } from 'msgpackr';
import type { MarketEvent } from './event.js';

// Plain maps (no records): every consumer can read them without sharing structure definitions.
const packr = new Packr({ useRecords: false, variableMapSize: true });

/** Encodes an event in the schema v1 wire form (msgpack map). */
export function encodeEvent(event: MarketEvent): Buffer {
  return packr.pack(event);
}
