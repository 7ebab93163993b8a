import type { ByteWriter } from './byte-writer.js';

/**
 * One event as the Redis script reads it, packed by the worker so that the main thread hands
 * Redis one buffer per partition chunk instead of eight arguments per event (argument handling
 * in the client was a sixth of the main thread's time when draining a backlog). Little endian:
 *
 *   f64 offset | f64 exchange time µs | u8 verdict | u16 venue len | u16 symbol len |
 *   u16 event key len | u32 JSON len | u32 details len | venue | symbol | key | JSON | details
 *
 * The script walks the records with Lua's `struct.unpack('<ddBHHHII', ...)`. Dead letters have
 * no record (zero bytes).
 */
export const RECORD_HEADER_BYTES = 8 + 8 + 1 + 2 + 2 + 2 + 4 + 4;

export function writeRedisRecord(w: ByteWriter, offset: number, tsUs: number, verdict: number, venue: string, symbol: string,
  eventKey: string, json: string, details: string): void {
  const at = w.reserve(RECORD_HEADER_BYTES);
  w.setF64(at, offset);
  w.setF64(at + 8, tsUs);
  w.setU8(at + 16, verdict);
  w.setU16(at + 17, w.writeCounted(venue));
  w.setU16(at + 19, w.writeCounted(symbol));
  w.setU16(at + 21, w.writeCounted(eventKey));
  w.setU32(at + 23, w.writeCounted(json));
  w.setU32(at + 27, w.writeCounted(details));
}

/** Where the event JSON of the record starting at `start` lies in `records` ([from, to)). */
export function recordJsonSpan(records: Uint8Array, start: number): [number, number] {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const venue = view.getUint16(start + 17, true);
  const symbol = view.getUint16(start + 19, true);
  const key = view.getUint16(start + 21, true);
  const json = view.getUint32(start + 23, true);
  const from = start + RECORD_HEADER_BYTES + venue + symbol + key;
  return [from, from + json];
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
  const lens = [view.getUint16(start + 17, true), view.getUint16(start + 19, true), view.getUint16(start + 21, true), view.getUint32(start + 23, true), view.getUint32(start + 27, true)];
  let at = start + RECORD_HEADER_BYTES;
  const parts = lens.map((n) => { const b = Buffer.from(records.buffer, records.byteOffset + at, n); at += n; return b; });
  return {
    offset: view.getFloat64(start, true), tsUs: view.getFloat64(start + 8, true), verdict: view.getUint8(start + 16),
    venue: parts[0]!.toString(), symbol: parts[1]!.toString(), eventKey: parts[2]!.toString(), json: parts[3]!, details: parts[4]!.toString(),
  };
}
