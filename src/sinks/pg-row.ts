import type { BookEvent, MarketEvent } from '../codec/event.js';
import type { CheckOutcome } from '../checks/engine.js';
import type { ByteWriter } from './byte-writer.js';

/** The parts of a check outcome a row stores. */
export type VerdictFields = Pick<CheckOutcome, 'verdict' | 'failedLo' | 'failedHi' | 'score'>;

/**
 * Columns of the event table, in COPY order. Kept beside the encoder so the two cannot drift;
 * `src/db/migrate.ts` creates the table from the same list.
 */
export const EVENT_COLUMNS = [
  ['ts', 'timestamptz NOT NULL'],
  ['recv_ts', 'timestamptz NOT NULL'],
  ['venue', 'text NOT NULL'],
  ['symbol', 'text NOT NULL'],
  ['type', 'text NOT NULL'],
  ['event_id', 'text'],
  ['side', 'text'],
  ['price', 'double precision'],
  ['size', 'double precision'],
  ['bid', 'double precision'],
  ['bid_size', 'double precision'],
  ['ask', 'double precision'],
  ['ask_size', 'double precision'],
  ['seq', 'bigint'],
  ['prev_seq', 'bigint'],
  ['payload', 'jsonb'],
  ['verdict', 'smallint NOT NULL'],
  ['failed_checks', 'bigint NOT NULL'],
  ['quality', 'real NOT NULL'],
  ['src_partition', 'integer NOT NULL'],
  ['src_offset', 'bigint NOT NULL'],
] as const;

export const EVENT_COLUMN_NAMES = EVENT_COLUMNS.map(([name]) => name);

const NULL = '\\N';
const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** Escapes a text field for COPY's text format (backslash, tab, newline, carriage return). */
export function copyText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

// Formatting a timestamp is the costliest field; consecutive events share their second, so the
// `YYYY-MM-DD HH:MM:SS` prefix is cached per thread.
let cachedSecond = -1;
let cachedPrefix = '';

/** µs since the epoch → `YYYY-MM-DD HH:MM:SS.ffffff+00` (PostgreSQL's text input for timestamptz). */
export function formatTimestampUs(us: number): string {
  const second = Math.floor(us / 1_000_000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    const iso = new Date(second * 1000).toISOString(); // 2021-10-12T00:28:43.000Z
    cachedPrefix = iso.slice(0, 10) + ' ' + iso.slice(11, 19);
  }
  const frac = us - second * 1_000_000;
  return cachedPrefix + '.' + (frac + 1_000_000).toString().slice(1) + '+00';
}

function num(n: number | undefined): string {
  return n === undefined ? NULL : String(n);
}

function int(n: number | undefined | null): string {
  return n === undefined || n === null ? NULL : String(n);
}

/** 64-bit failed-check set as a signed bigint literal (PostgreSQL has no unsigned types). */
function checkBits(lo: number, hi: number): string {
  if (hi === 0) return String(lo);
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
}

// The `payload` column of a trade, quote or liquidation: what has no column of its own (offBook,
// market, contractSize), or NULL. Consecutive events of a stream carry the same extras, so the
// last one's JSON is kept per thread: no string is built per event.
let extrasOffBook: boolean | undefined;
let extrasMarket: string | undefined;
let extrasContractSize: number | undefined;
let extrasJson: string | null = null;

function extrasPayload(offBook: boolean | undefined, e: MarketEvent): string | null {
  if (offBook !== true && e.market === undefined && e.contractSize === undefined) return null;
  if (offBook !== extrasOffBook || e.market !== extrasMarket || e.contractSize !== extrasContractSize || extrasJson === null) {
    extrasOffBook = offBook;
    extrasMarket = e.market;
    extrasContractSize = e.contractSize;
    extrasJson = JSON.stringify({ offBook: offBook === true ? true : undefined, market: e.market, contractSize: e.contractSize });
  }
  return extrasJson;
}

/** The `payload` column of a book update: what has no column of its own, levels included. */
function bookPayload(e: BookEvent): string {
  return JSON.stringify({ market: e.market, contractSize: e.contractSize, firstSeq: e.firstSeq, checksum: e.checksum, priceDp: e.priceDp, sizeDp: e.sizeDp, bids: e.bids, asks: e.asks });
}

/**
 * One COPY text row (with its newline) for an event and its verdict. The production sink writes
 * binary rows (`writeBinaryRow`); this is the alternative `npm run bench` compares it with.
 */
export function encodeCopyRow(e: MarketEvent, o: VerdictFields, partition: number, offset: number): string {
  let eventId = NULL;
  let side = NULL;
  let price = NULL, size = NULL, bid = NULL, bidSize = NULL, ask = NULL, askSize = NULL;
  let seq = NULL, prevSeq = NULL, payload = NULL;
  switch (e.type) {
    case 'trade':
      eventId = copyText(e.id);
      side = e.side === '' ? NULL : e.side;
      price = num(e.price); size = num(e.size);
      payload = extrasPayload(e.offBook, e) ?? NULL;
      break;
    case 'quote':
      bid = num(e.bid); bidSize = num(e.bidSize); ask = num(e.ask); askSize = num(e.askSize);
      if (e.updateId !== undefined && e.updateId !== null) { eventId = String(e.updateId); seq = eventId; }
      payload = extrasPayload(undefined, e) ?? NULL;
      break;
    case 'liquidation':
      eventId = e.id === undefined ? NULL : copyText(e.id);
      side = e.posSide;
      price = num(e.price); size = num(e.size);
      payload = extrasPayload(undefined, e) ?? NULL;
      break;
    case 'book':
      eventId = String(e.seq);
      side = e.action;
      seq = String(e.seq); prevSeq = int(e.prevSeq);
      payload = copyText(bookPayload(e));
      break;
  }
  return formatTimestampUs(e.ts) + '\t' + formatTimestampUs(e.recvTs) + '\t' + copyText(e.venue) + '\t' + copyText(e.symbol)
    + '\t' + e.type + '\t' + eventId + '\t' + side + '\t' + price + '\t' + size + '\t' + bid + '\t' + bidSize
    + '\t' + ask + '\t' + askSize + '\t' + seq + '\t' + prevSeq + '\t' + payload + '\t' + o.verdict
    + '\t' + checkBits(o.failedLo, o.failedHi) + '\t' + o.score + '\t' + partition + '\t' + offset + '\n';
}

/**
 * Binary COPY (`COPY ... FROM STDIN (FORMAT binary)`): the stream starts with this signature,
 * a flags word and a header-extension length, and ends with a field count of -1.
 */
export const BINARY_COPY_HEADER = Uint8Array.of(0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0);
export const BINARY_COPY_TRAILER = Uint8Array.of(0xff, 0xff);

/** µs from the Unix epoch to PostgreSQL's (2000-01-01 UTC), the origin of a binary timestamptz. */
const PG_EPOCH_US = 946_684_800_000_000;
const NULL_FIELD = -1;

function nullField(w: ByteWriter): void {
  w.i32(NULL_FIELD);
}

function text(w: ByteWriter, s: string): void {
  const at = w.reserve(4);
  w.setI32BE(at, w.writeCounted(s));
}

function float8(w: ByteWriter, v: number | undefined): void {
  if (v === undefined) return nullField(w);
  w.i32(8);
  w.f64(v);
}

function int8(w: ByteWriter, v: number | undefined | null): void {
  if (v === undefined || v === null) return nullField(w);
  w.i32(8);
  w.i64(v);
}

function timestamptz(w: ByteWriter, us: number): void {
  w.i32(8);
  w.i64(us - PG_EPOCH_US);
}

/** jsonb's binary form: a version byte (1), then the JSON text. */
function jsonb(w: ByteWriter, json: string): void {
  const at = w.reserve(5);
  w.setU8(at + 4, 1);
  w.setI32BE(at, 1 + w.writeCounted(json));
}

function jsonbOrNull(w: ByteWriter, json: string | null): void {
  if (json === null) nullField(w);
  else jsonb(w, json);
}

/**
 * Appends one binary COPY row for an event and its verdict, in `EVENT_COLUMNS` order. Numbers
 * and timestamps go in as their 8 bytes: no formatting here (less than half of a text row's
 * cost in `npm run bench`) and no parsing in PostgreSQL.
 */
export function writeBinaryRow(w: ByteWriter, e: MarketEvent, o: VerdictFields, partition: number, offset: number): void {
  w.i16(EVENT_COLUMNS.length);
  timestamptz(w, e.ts);
  timestamptz(w, e.recvTs);
  text(w, e.venue);
  text(w, e.symbol);
  text(w, e.type);
  switch (e.type) {
    case 'trade':
      text(w, e.id); // event_id
      if (e.side === '') nullField(w); else text(w, e.side);
      float8(w, e.price); float8(w, e.size);
      nullField(w); nullField(w); nullField(w); nullField(w); // bid, bid_size, ask, ask_size
      nullField(w); nullField(w); // seq, prev_seq
      jsonbOrNull(w, extrasPayload(e.offBook, e));
      break;
    case 'quote': {
      const id = e.updateId;
      if (id === undefined || id === null) nullField(w); else text(w, String(id));
      nullField(w); // side
      nullField(w); nullField(w); // price, size
      float8(w, e.bid); float8(w, e.bidSize); float8(w, e.ask); float8(w, e.askSize);
      int8(w, id); nullField(w);
      jsonbOrNull(w, extrasPayload(undefined, e));
      break;
    }
    case 'liquidation':
      if (e.id === undefined) nullField(w); else text(w, e.id);
      text(w, e.posSide);
      float8(w, e.price); float8(w, e.size);
      nullField(w); nullField(w); nullField(w); nullField(w);
      nullField(w); nullField(w);
      jsonbOrNull(w, extrasPayload(undefined, e));
      break;
    case 'book':
      text(w, String(e.seq));
      text(w, e.action);
      nullField(w); nullField(w);
      nullField(w); nullField(w); nullField(w); nullField(w);
      int8(w, e.seq); int8(w, e.prevSeq);
      jsonb(w, bookPayload(e));
      break;
  }
  w.i32(2); w.i16(o.verdict);
  w.i32(8); w.u32pair(o.failedHi, o.failedLo);
  w.i32(4); w.f32(o.score);
  w.i32(4); w.i32(partition);
  w.i32(8); w.i64(offset);
}
