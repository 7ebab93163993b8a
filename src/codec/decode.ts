import { Unpackr } from 'msgpackr';
import { ErrorCode } from '../errors.js';
import {
  canonicalEvent, EVENT_TYPES, MARKET_TYPES, SCHEMA_VERSION,
  type EventType, type Level, type MarketEvent,
} from './event.js';

/** Why a message could not become an event. Plain data: it crosses the worker boundary. */
export interface DecodeFailure {
  code: typeof ErrorCode.DECODE_FAILED | typeof ErrorCode.SCHEMA_INVALID | typeof ErrorCode.MESSAGE_TOO_LARGE;
  message: string;
}

export type DecodeResult = { ok: true; event: MarketEvent } | { ok: false; failure: DecodeFailure };

// One reader per thread: msgpackr keeps its decode state on the instance.
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'number' });
const utf8 = new TextDecoder('utf-8', { fatal: true });
const JSON_OPEN_BRACE = 0x7b;
const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const MARKET_SET: ReadonlySet<string> = new Set(MARKET_TYPES);
// One way to match each digit run: `\d+\.?\d*` split a run of digits between `\d+` and `\d*` in
// every possible way before failing, so a 100 kB digit string with a stray character at its
// end took 12 s (quadratic backtracking).
const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Longest venue, symbol or id accepted, in UTF-16 code units. Real ones are under 64. The
 * Redis record stores each of them (an id inside the event key) with a u16 byte length, so
 * anything near 21,845 code units (3 UTF-8 bytes each) would corrupt the batch the script
 * reads; a short bound also keeps the Redis key names short.
 */
export const MAX_TEXT_LENGTH = 256;
/**
 * Characters a stored string may not carry: NUL (PostgreSQL text and jsonb refuse it),
 * surrogates (a lone one has no UTF-8 form: the sinks' UTF-8 encoder would silently write U+FFFD
 * into text columns and Redis keys while the event JSON keeps a `\ud800` escape, which jsonb
 * refuses), and U+FFFD itself (what msgpackr makes of invalid UTF-8 in a msgpack string: the
 * message was corrupt; JSON input is decoded with a fatal decoder).
 * One scan with this character class per string; only a string that matches (rare) is looked
 * at again, because a valid surrogate pair (an emoji) is fine.
 */
const SUSPECT_CHAR = /[\u0000\uD800-\uDFFF\uFFFD]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Decodes one message: JSON when it starts with `{` (a msgpack map never does: 0x7b is the
 * fixint 123), msgpack otherwise; then validates it against schema v1 (structure, types,
 * finiteness, enumerations). Value checks (price > 0, crossed quotes ...) are the checks' job.
 */
export function decodeEvent(bytes: Uint8Array, start: number, end: number, venues?: ReadonlySet<string>): DecodeResult {
  // msgpackr reads `end: 0` as "to the end of the buffer": an empty message at the start of a
  // buffer would decode whatever follows it.
  if (end <= start) return fail(ErrorCode.DECODE_FAILED, 'empty message');
  let raw: unknown;
  try {
    if (bytes[start] === JSON_OPEN_BRACE) {
      raw = JSON.parse(utf8.decode(bytes.subarray(start, end)));
    } else {
      raw = unpackr.unpack(bytes, { start, end } as never);
    }
  } catch (err) {
    return fail(ErrorCode.DECODE_FAILED, `not msgpack or JSON: ${(err as Error).message}`);
  }
  return validateEvent(raw, venues);
}

function fail(code: DecodeFailure['code'], message: string): DecodeResult {
  return { ok: false, failure: { code, message } };
}

/**
 * Validates a decoded value against schema v1 and normalizes decimal strings to numbers. With
 * `venues`, an event of any other venue is refused (the worker passes `checks.knownVenues`).
 */
export function validateEvent(raw: unknown, venues?: ReadonlySet<string>): DecodeResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail(ErrorCode.SCHEMA_INVALID, 'event must be a map');
  }
  const e = raw as Record<string, unknown>;
  if (e.v !== SCHEMA_VERSION) return fail(ErrorCode.SCHEMA_INVALID, `unknown schema version ${shown(e.v)}`);
  if (typeof e.type !== 'string' || !EVENT_TYPE_SET.has(e.type)) {
    return fail(ErrorCode.SCHEMA_INVALID, `unknown event type ${shown(e.type)}`);
  }
  const type = e.type as EventType;
  if (typeof e.venue !== 'string' || e.venue.length === 0) return fail(ErrorCode.SCHEMA_INVALID, 'venue missing');
  let problem = textProblem(e.venue);
  if (problem !== null) return fail(ErrorCode.SCHEMA_INVALID, `venue ${problem}`);
  if (venues !== undefined && !venues.has(e.venue)) {
    return fail(ErrorCode.SCHEMA_INVALID, `unknown venue ${shown(e.venue)} (not in checks.knownVenues)`);
  }
  if (typeof e.symbol !== 'string' || e.symbol.length === 0) return fail(ErrorCode.SCHEMA_INVALID, 'symbol missing');
  problem = textProblem(e.symbol);
  if (problem !== null) return fail(ErrorCode.SCHEMA_INVALID, `symbol ${problem}`);
  // Any safe integer fits PostgreSQL's timestamptz (2^53 µs is the year 2255) and a binary COPY's int64.
  if (!isTimestamp(e.ts)) return fail(ErrorCode.SCHEMA_INVALID, 'ts must be an integer (µs) in 0..2^53-1');
  if (!isTimestamp(e.recvTs)) return fail(ErrorCode.SCHEMA_INVALID, 'recvTs must be an integer (µs) in 0..2^53-1');
  if (e.market === null) e.market = undefined;
  if (e.market !== undefined && !MARKET_SET.has(e.market as string)) return fail(ErrorCode.SCHEMA_INVALID, `market ${shown(e.market)} is not spot|perp|future`);
  if (e.contractSize === null) e.contractSize = undefined;
  if (e.contractSize !== undefined && (!numberField(e, 'contractSize') || !((e.contractSize as number) > 0))) return fail(ErrorCode.SCHEMA_INVALID, 'contractSize must be a finite number above 0');

  switch (type) {
    case 'trade': problem = validateTrade(e); break;
    case 'quote': problem = validateQuote(e); break;
    case 'liquidation': problem = validateLiquidation(e); break;
    case 'book': problem = validateBook(e); break;
  }
  if (problem !== null) return fail(ErrorCode.SCHEMA_INVALID, `${type}: ${problem}`);
  return { ok: true, event: canonicalEvent(e as unknown as MarketEvent) };
}

/** Why a string cannot be stored as it is, or null when it can (see SUSPECT_CHAR). */
function textProblem(s: string): string | null {
  if (s.length > MAX_TEXT_LENGTH) return `longer than ${MAX_TEXT_LENGTH} characters`;
  if (!SUSPECT_CHAR.test(s)) return null;
  if (s.includes('\u0000')) return 'contains NUL (U+0000)';
  if (s.includes('\uFFFD')) return 'contains U+FFFD (invalid UTF-8 in the message)';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired surrogate (not encodable as UTF-8)';
  return null;
}

/**
 * A value as a failure message shows it: short (the message travels as a Kafka header of the
 * dead letter) and without JSON.stringify on what the message held (it throws on a BigInt, a
 * cycle or deep nesting, any of which msgpack or JSON can carry).
 */
function shown(v: unknown): string {
  switch (typeof v) {
    case 'string': return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
    case 'number': case 'boolean': case 'undefined': return String(v);
    case 'bigint': return 'a bigint';
    default: return v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object';
  }
}

function isTimestamp(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Reads a finite number or a decimal string into `e[key]`; returns false when it cannot. */
function numberField(e: Record<string, unknown>, key: string): boolean {
  const v = e[key];
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v === 'string' && DECIMAL.test(v)) {
    e[key] = Number(v);
    return Number.isFinite(e[key]);
  }
  return false;
}

/** Absent, null, or an integer a bigint column and a double both hold exactly. */
function optionalInteger(e: Record<string, unknown>, key: string): boolean {
  const v = e[key];
  return v === undefined || v === null || (typeof v === 'number' && Number.isSafeInteger(v));
}

function validateTrade(e: Record<string, unknown>): string | null {
  if (typeof e.id === 'number' && Number.isSafeInteger(e.id)) e.id = String(e.id);
  if (e.id === undefined || e.id === null || e.id === '') return 'id missing';
  if (typeof e.id !== 'string') return 'id must be a string or an integer in ±(2^53-1)';
  const problem = textProblem(e.id);
  if (problem !== null) return `id ${problem}`;
  if (!numberField(e, 'price')) return 'price must be a finite number';
  if (!numberField(e, 'size')) return 'size must be a finite number';
  if (e.side === undefined || e.side === null) e.side = '';
  if (e.side !== 'buy' && e.side !== 'sell' && e.side !== '') return `side ${shown(e.side)} is not buy|sell`;
  if (e.offBook !== undefined && typeof e.offBook !== 'boolean') return 'offBook must be a boolean';
  return null;
}

function validateQuote(e: Record<string, unknown>): string | null {
  for (const k of ['bid', 'bidSize', 'ask', 'askSize']) if (!numberField(e, k)) return `${k} must be a finite number`;
  if (!optionalInteger(e, 'updateId')) return 'updateId must be an integer in ±(2^53-1)';
  return null;
}

function validateLiquidation(e: Record<string, unknown>): string | null {
  if (e.posSide !== 'long' && e.posSide !== 'short') return `posSide ${shown(e.posSide)} is not long|short`;
  if (!numberField(e, 'price')) return 'price must be a finite number';
  if (!numberField(e, 'size')) return 'size must be a finite number';
  if (typeof e.id === 'number' && Number.isSafeInteger(e.id)) e.id = String(e.id);
  if (e.id === undefined) return null;
  if (typeof e.id !== 'string' || e.id.length === 0) return 'id must be a non-empty string or an integer in ±(2^53-1)';
  const problem = textProblem(e.id);
  return problem === null ? null : `id ${problem}`;
}

function validateLevels(v: unknown): v is Level[] {
  if (!Array.isArray(v)) return false;
  for (const level of v) {
    // Exactly two: the levels go into the jsonb payload as they are, and a third element could
    // be anything (a string with NUL, a large nested value).
    if (!Array.isArray(level) || level.length !== 2) return false;
    for (let i = 0; i < 2; i++) {
      const x = level[i];
      if (typeof x === 'string' && DECIMAL.test(x)) level[i] = Number(x);
      else if (typeof x !== 'number' || !Number.isFinite(x)) return false;
    }
  }
  return true;
}

function validateBook(e: Record<string, unknown>): string | null {
  if (e.action !== 'snapshot' && e.action !== 'delta') return `action ${shown(e.action)} is not snapshot|delta`;
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq)) return 'seq must be an integer in ±(2^53-1)';
  if (!optionalInteger(e, 'prevSeq')) return 'prevSeq must be an integer in ±(2^53-1)';
  if (!optionalInteger(e, 'firstSeq')) return 'firstSeq must be an integer in ±(2^53-1)';
  if (!optionalInteger(e, 'checksum')) return 'checksum must be an integer in ±(2^53-1)';
  if (!optionalInteger(e, 'priceDp') || !optionalInteger(e, 'sizeDp')) return 'priceDp and sizeDp must be integers';
  if (outOfRange(e.priceDp, 0, 12) || outOfRange(e.sizeDp, 0, 12)) return 'priceDp and sizeDp must be within 0..12';
  if (!validateLevels(e.bids)) return 'bids must be [price, size] pairs';
  if (!validateLevels(e.asks)) return 'asks must be [price, size] pairs';
  return null;
}

function outOfRange(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && (v < min || v > max);
}
