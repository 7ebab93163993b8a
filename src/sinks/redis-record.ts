import type { MarketEvent } from '../codec/event.js';
import type { ByteWriter } from './byte-writer.js';
import { writeEventJson, type JsonVerdict } from './event-json.js';

/**
 * One event as the Redis script reads it, packed by the worker so that the main thread hands
 * Redis one buffer per partition chunk instead of eight arguments per event (argument handling
 * in the client was a sixth of the main thread's time when draining a backlog). Little endian:
 *
 *   f64 offset | f64 exchange time µs | u8 verdict | u16 venue len | u16 symbol len |
 *   u16 event key len | u32 JSON len | u32 details len |
 *   venue ':' symbol | venue '|' event key | JSON | details
 *
 * The two joined strings are the script's keys as they are: the stream (`latest:`, `quality:`)
 * and the member of the recent set. Joined here, the script takes each with one `string.sub`
 * instead of building it by concatenation per event (the script's per-event work was most of
 * Redis's time per event). The script walks the records with Lua's
 * `struct.unpack('<ddBHHHII', ...)`. Dead letters have no record (zero bytes).
 */
export const RECORD_HEADER_BYTES = 8 + 8 + 1 + 2 + 2 + 2 + 4 + 4;
const COLON = 0x3a;
const BAR = 0x7c;
const TRADE_KEY = 0x74; // t
const QUOTE_KEY = 0x71; // q
const LIQUIDATION_KEY = 0x6c; // l
const BOOK_KEY = 0x62; // b

/**
 * Appends the record of a checked event: its stream, its recent-set member (the venue's event
 * key, see `writeEventKey`), its JSON (`writeEventJson`) and `details` (the failed checks, for
 * rejects and cascade indicators; '' otherwise), each written straight into `w`.
 */
export function writeRedisRecord(w: ByteWriter, offset: number, e: MarketEvent, o: JsonVerdict, details: string): void {
  const at = w.reserve(RECORD_HEADER_BYTES);
  w.setF64(at, offset);
  w.setF64(at + 8, e.ts);
  w.setU8(at + 16, o.verdict);
  const venueBytes = w.writeCounted(e.venue);
  w.u8(COLON);
  w.setU16(at + 17, venueBytes);
  w.setU16(at + 19, w.writeCounted(e.symbol));
  w.writeCounted(e.venue);
  w.u8(BAR);
  w.setU16(at + 21, writeEventKey(w, e));
  w.setU32(at + 23, writeEventJson(w, e, o));
  w.setU32(at + 27, w.writeCounted(details));
}

/**
 * The venue's identity of an event (`t:<id>`, `q:<updateId or ts>`, `l:<id or ts>`, `b:<seq>`):
 * a venue re-sending the same trade, quote update or book update maps to the same key, so the
 * recent set holds it once. Types without an id use the exchange time. Returns the bytes written.
 */
export function writeEventKey(w: ByteWriter, e: MarketEvent): number {
  switch (e.type) {
    case 'trade': w.u8(TRADE_KEY); w.u8(COLON); return 2 + w.writeCounted(e.id);
    case 'quote': w.u8(QUOTE_KEY); w.u8(COLON); return 2 + w.decimal(e.updateId ?? e.ts);
    case 'liquidation': w.u8(LIQUIDATION_KEY); w.u8(COLON); return 2 + (e.id === undefined ? w.decimal(e.ts) : w.writeCounted(e.id));
    case 'book': w.u8(BOOK_KEY); w.u8(COLON); return 2 + w.decimal(e.seq);
  }
}

interface RecordLayout {
  venue: number;
  symbol: number;
  key: number;
  json: number;
  details: number;
  /** Where the JSON starts. */
  jsonAt: number;
}

function layout(view: DataView, start: number): RecordLayout {
  const venue = view.getUint16(start + 17, true);
  const symbol = view.getUint16(start + 19, true);
  const key = view.getUint16(start + 21, true);
  const jsonAt = start + RECORD_HEADER_BYTES + (venue + 1 + symbol) + (venue + 1 + key);
  return { venue, symbol, key, json: view.getUint32(start + 23, true), details: view.getUint32(start + 27, true), jsonAt };
}

/** Where the event JSON of the record starting at `start` lies in `records` ([from, to)). */
export function recordJsonSpan(records: Uint8Array, start: number): [number, number] {
  const l = layout(new DataView(records.buffer, records.byteOffset, records.byteLength), start);
  return [l.jsonAt, l.jsonAt + l.json];
}

export interface RedisRecord {
  offset: number;
  tsUs: number;
  verdict: number;
  venue: string;
  symbol: string;
  eventKey: string;
  /** A view of the JSON bytes. */
  json: Buffer;
  details: string;
}

/** Reads the record at `start` (benchmarks and tests; the Redis script reads them itself). */
export function readRedisRecord(records: Uint8Array, start: number): RedisRecord {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const l = layout(view, start);
  const text = (from: number, n: number) => Buffer.from(records.buffer, records.byteOffset + from, n).toString();
  const at = start + RECORD_HEADER_BYTES;
  const memberAt = at + l.venue + 1 + l.symbol;
  return {
    offset: view.getFloat64(start, true), tsUs: view.getFloat64(start + 8, true), verdict: view.getUint8(start + 16),
    venue: text(at, l.venue), symbol: text(at + l.venue + 1, l.symbol), eventKey: text(memberAt + l.venue + 1, l.key),
    json: Buffer.from(records.buffer, records.byteOffset + l.jsonAt, l.json), details: text(l.jsonAt + l.json, l.details),
  };
}
