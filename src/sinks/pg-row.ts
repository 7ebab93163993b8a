import type { MarketEvent } from '../codec/event.js';
import type { CheckOutcome } from '../checks/engine.js';

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

/** One COPY text row (with its newline) for an event and its verdict. */
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
      if (e.offBook === true) payload = '{"offBook":true}';
      break;
    case 'quote':
      bid = num(e.bid); bidSize = num(e.bidSize); ask = num(e.ask); askSize = num(e.askSize);
      if (e.updateId !== undefined && e.updateId !== null) { eventId = String(e.updateId); seq = eventId; }
      break;
    case 'liquidation':
      eventId = e.id === undefined ? NULL : copyText(e.id);
      side = e.posSide;
      price = num(e.price); size = num(e.size);
      break;
    case 'book':
      eventId = String(e.seq);
      side = e.action;
      seq = String(e.seq); prevSeq = int(e.prevSeq);
      payload = copyText(JSON.stringify({ firstSeq: e.firstSeq, checksum: e.checksum, priceDp: e.priceDp, sizeDp: e.sizeDp, bids: e.bids, asks: e.asks }));
      break;
  }
  return formatTimestampUs(e.ts) + '\t' + formatTimestampUs(e.recvTs) + '\t' + copyText(e.venue) + '\t' + copyText(e.symbol)
    + '\t' + e.type + '\t' + eventId + '\t' + side + '\t' + price + '\t' + size + '\t' + bid + '\t' + bidSize
    + '\t' + ask + '\t' + askSize + '\t' + seq + '\t' + prevSeq + '\t' + payload + '\t' + o.verdict
    + '\t' + checkBits(o.failedLo, o.failedHi) + '\t' + o.score + '\t' + partition + '\t' + offset + '\n';
}
