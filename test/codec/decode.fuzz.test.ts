import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeEvent, type DecodeResult } from '../../src/codec/decode.js';
import { canonicalEvent, type Level, type MarketEvent } from '../../src/codec/event.js';
import { VENUES } from '../../src/normalize/index.js';
import { ByteWriter } from '../../src/sinks/byte-writer.js';
import { writeBinaryRow } from '../../src/sinks/pg-row.js';
import { readRedisRecord, writeRedisRecord } from '../../src/sinks/redis-record.js';
import { fuzzParams, memoryInUse } from '../helpers/fuzz.js';
import { tradeEvent, validEvent, wire } from '../helpers/event-arbitraries.js';
import { referenceEventJson, referenceEventKey } from '../helpers/reference-json.js';

// Property tests of the decoder: whatever the bytes, decodeEvent returns a result (it never
// throws into the worker's batch loop), a failure is one of the decoder's codes with a short
// message, and an accepted event is one both sinks can store as it is.

const plain = new Packr({ useRecords: false });
// Everything msgpackr can put on the wire: BigInt and error/regexp/set extensions, cycles.
const exotic = new Packr({ useRecords: false, useBigIntExtension: true, structuredClone: true, moreTypes: true });
const utf8 = new TextDecoder('utf-8', { fatal: true });
const CODES = new Set(['DECODE_FAILED', 'SCHEMA_INVALID', 'MESSAGE_TOO_LARGE']);
const KNOWN = new Set<string>(VENUES);
const MAX_TEXT = 256;
/** What a text column (PostgreSQL text, jsonb, the Redis record) cannot take as it is. */
const UNSTORABLE = /\u0000|\uFFFD|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function decode(bytes: Uint8Array, venues?: ReadonlySet<string>): DecodeResult {
  return decodeEvent(bytes, 0, bytes.length, venues);
}

function storableText(s: unknown, what: string): void {
  assert.equal(typeof s, 'string', what);
  const t = s as string;
  assert.ok(t.length > 0 && t.length <= MAX_TEXT, `${what}: length ${t.length}`);
  assert.ok(!UNSTORABLE.test(t), `${what}: ${JSON.stringify(t)}`);
}

function safeInt(v: unknown, what: string, optional = false): void {
  if (optional && (v === undefined || v === null)) return;
  assert.ok(typeof v === 'number' && Number.isSafeInteger(v), `${what}: ${String(v)}`);
}

function finite(v: unknown, what: string): void {
  assert.ok(typeof v === 'number' && Number.isFinite(v), `${what}: ${String(v)}`);
}

/** An accepted event is one the COPY row and the Redis record carry unchanged. */
function assertStorable(e: MarketEvent): void {
  storableText(e.venue, 'venue');
  storableText(e.symbol, 'symbol');
  for (const k of ['ts', 'recvTs'] as const) {
    safeInt(e[k], k);
    assert.ok(e[k] >= 0, k);
  }
  switch (e.type) {
    case 'trade':
      storableText(e.id, 'trade id');
      finite(e.price, 'price'); finite(e.size, 'size');
      assert.ok(['buy', 'sell', ''].includes(e.side));
      assert.ok(e.offBook === undefined || typeof e.offBook === 'boolean');
      break;
    case 'quote':
      for (const k of ['bid', 'bidSize', 'ask', 'askSize'] as const) finite(e[k], k);
      safeInt(e.updateId, 'updateId', true);
      break;
    case 'liquidation':
      if (e.id !== undefined) storableText(e.id, 'liquidation id');
      assert.ok(e.posSide === 'long' || e.posSide === 'short');
      finite(e.price, 'price'); finite(e.size, 'size');
      break;
    case 'book':
      assert.ok(e.action === 'snapshot' || e.action === 'delta');
      safeInt(e.seq, 'seq');
      for (const k of ['prevSeq', 'firstSeq', 'checksum', 'priceDp', 'sizeDp'] as const) safeInt(e[k], k, true);
      for (const side of [e.bids, e.asks]) {
        for (const l of side) {
          assert.ok(Array.isArray(l) && l.length === 2, 'a level is [price, size]');
          finite(l[0], 'level price'); finite(l[1], 'level size');
        }
      }
      break;
    default:
      assert.fail(`type ${String((e as { type: unknown }).type)}`);
  }
  // Both sink encoders take it, and the Redis record's length fields read back what went in.
  writeBinaryRow(new ByteWriter(1024), e, { verdict: 0, failedLo: 0, failedHi: 0, score: 1 }, 0, 0);
  const w = new ByteWriter(1024);
  const verdict = { verdict: 0, failedLo: 0, failedHi: 0, score: 1 };
  const json = referenceEventJson(e, verdict);
  const key = referenceEventKey(e);
  writeRedisRecord(w, 0, e, verdict, '');
  const r = readRedisRecord(w.take(), 0);
  assert.deepEqual([r.venue, r.symbol, r.eventKey, r.json.toString()], [e.venue, e.symbol, key, json]);
}

function assertResult(r: DecodeResult): void {
  if (r.ok) {
    assertStorable(r.event);
  } else {
    assert.ok(CODES.has(r.failure.code), r.failure.code);
    assert.equal(typeof r.failure.message, 'string');
    // It travels as a Kafka header of the dead letter: short, whatever the message held.
    assert.ok(r.failure.message.length <= 512, `message of ${r.failure.message.length} chars`);
  }
}

// ---- generators (valid events: test/helpers/event-arbitraries.ts) ----

function encode(value: unknown, json: boolean): Uint8Array | null {
  try {
    return json ? Buffer.from(JSON.stringify(value)) : exotic.pack(value);
  } catch {
    return null; // not representable in that encoding (BigInt in JSON, ...): nothing to decode
  }
}

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;

/** Values a producer bug or an attacker may put in any field. */
const hostile = fc.oneof(
  fc.anything({ maxDepth: 3, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true, withBoxedValues: true }),
  fc.constantFrom<unknown>(NaN, Infinity, -Infinity, -0, 2 ** 53, -(2 ** 53), 2 ** 64, 1e308, 5e-324, -1, 1.5, '', '\u0000', 'a\u0000b', '\uD800',
    'x\uDC00', '\uD83D\uDE00', '\uFFFD', '1e999', 'NaN', 'Infinity', '0x10', ' 1', '1_000', true, null, [], {}, [1], [[1]], [[1, 2, 3]], [[1, '\u0000']],
    [[1, 2, { a: 1 }]], 2n ** 70n, -(2n ** 64n), new Date(NaN), cyclic, [cyclic, cyclic], new Set([1]), /x/, new Error('e')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.bigInt(),
  fc.integer({ min: MAX_TEXT - 2, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

const FIELDS = ['v', 'type', 'venue', 'symbol', 'ts', 'recvTs', 'id', 'price', 'size', 'side', 'offBook', 'bid', 'bidSize', 'ask', 'askSize',
  'updateId', 'posSide', 'action', 'seq', 'prevSeq', 'firstSeq', 'checksum', 'priceDp', 'sizeDp', 'bids', 'asks', '__proto__', 'constructor'];

const fieldEdit = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), field: fc.constantFrom(...FIELDS), value: hostile }),
  fc.record({ kind: fc.constant('delete' as const), field: fc.constantFrom(...FIELDS) }),
);

/** msgpack headers declaring far more bytes or items than any message holds. */
const HUGE_HEADERS: number[][] = [
  [0xd9, 0xff], [0xda, 0xff, 0xff], [0xdb, 0xff, 0xff, 0xff, 0xff], [0xdb, 0x7f, 0xff, 0xff, 0xff], [0xdb, 0x80, 0, 0, 0], // str8/16/32
  [0xc4, 0xff], [0xc5, 0xff, 0xff], [0xc6, 0xff, 0xff, 0xff, 0xff], // bin8/16/32
  [0xdc, 0xff, 0xff], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xdd, 0x7f, 0xff, 0xff, 0xff], // array16/32
  [0xde, 0xff, 0xff], [0xdf, 0xff, 0xff, 0xff, 0xff], // map16/32
  // ext32 of every extension msgpackr knows (BigInt, error, ids, pointers, set, typed array, regexp, bundled strings, records, dates)
  ...[0x42, 0x65, 0x69, 0x70, 0x73, 0x74, 0x78, 0x62, 0x72, 0xff, 0x00].map((t) => [0xc9, 0xff, 0xff, 0xff, 0xff, t]),
  [0xc7, 0xff, 0x62], [0xc8, 0xff, 0xff, 0x42], [0xd8, 0x62, 0x7f, 0xff, 0xff, 0xff], // bundled strings: a signed size
];

const byteEdit = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(...HUGE_HEADERS).map((h) => Uint8Array.from(h))) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
);
type ByteEdit = typeof byteEdit extends fc.Arbitrary<infer T> ? T : never;

function applyByteEdit(b: Uint8Array, m: ByteEdit): Uint8Array {
  const at = m.at % (b.length + 1);
  switch (m.kind) {
    case 'truncate': return b.subarray(0, at);
    case 'overwrite': { const c = Uint8Array.from(b); c.set(m.bytes.subarray(0, Math.max(0, c.length - at)), at); return c; }
    case 'insert': return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    case 'remove': return Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
  }
}

const venueSet = fc.constantFrom<ReadonlySet<string> | undefined>(undefined, KNOWN);

describe('decoder properties', () => {
  it('valid events of every type round-trip through msgpack and JSON unchanged', () => {
    fc.assert(fc.property(validEvent, fc.boolean(), (e, json) => {
      const r = decode(json ? Buffer.from(JSON.stringify(wire(e))) : plain.pack(wire(e)), KNOWN);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(JSON.stringify(r.event), JSON.stringify(canonicalEvent(e)));
      assertStorable(r.event);
    }), fuzzParams(1000));
  });

  it('arbitrary bytes: a result, never a throw', () => {
    const lead = fc.constantFrom(0x7b, 0x80, 0x81, 0x8a, 0x8f, 0xde, 0xdf, 0xc7, 0xc9, 0xd4, 0xd6);
    fc.assert(fc.property(fc.option(lead, { nil: undefined }), fc.uint8Array({ maxLength: 300 }), venueSet, (first, rest, venues) => {
      assertResult(decode(first === undefined ? rest : Buffer.concat([Uint8Array.of(first), rest]), venues));
    }), fuzzParams(5000));
  });

  it('decodes a slice exactly as the same bytes on their own, whatever lies around it', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 16 }), fc.oneof(validEvent.map((e) => plain.pack(wire(e)) as Uint8Array), fc.uint8Array({ maxLength: 40 })),
      fc.uint8Array({ maxLength: 16 }), validEvent, (before, message, after, next) => {
        // What follows a message in a packed batch is the next message: often a valid event.
        const buf = Buffer.concat([before, message, after, plain.pack(wire(next))]);
        const inPlace = decodeEvent(buf, before.length, before.length + message.length);
        const alone = decode(Uint8Array.from(message));
        assertResult(inPlace);
        assert.equal(inPlace.ok, alone.ok);
        if (inPlace.ok && alone.ok) assert.deepEqual(inPlace.event, alone.event);
        if (!inPlace.ok && !alone.ok) assert.equal(inPlace.failure.code, alone.failure.code);
      }), fuzzParams(3000));
  });

  it('arbitrary values as msgpack or JSON: a result, never a throw', () => {
    fc.assert(fc.property(fc.oneof(hostile, fc.dictionary(fc.constantFrom(...FIELDS), hostile)), fc.boolean(), venueSet, (value, json, venues) => {
      const bytes = encode(value, json);
      if (bytes !== null) assertResult(decode(bytes, venues));
    }), fuzzParams(3000));
  });

  it('valid events with fields set to hostile values or missing: a result, never a throw', () => {
    fc.assert(fc.property(validEvent, fc.array(fieldEdit, { minLength: 1, maxLength: 3 }), fc.boolean(), venueSet, (e, edits, json, venues) => {
      const o: Record<string, unknown> = wire(e);
      for (const m of edits) {
        if (m.kind === 'set') Object.defineProperty(o, m.field, { value: m.value, enumerable: true, writable: true, configurable: true });
        else delete o[m.field];
      }
      const bytes = encode(o, json);
      if (bytes !== null) assertResult(decode(bytes, venues));
    }), fuzzParams(4000));
  });

  it('valid events with bytes truncated, overwritten, inserted (huge length headers too) or removed: a result, never a throw', () => {
    fc.assert(fc.property(validEvent, fc.boolean(), fc.array(byteEdit, { minLength: 1, maxLength: 4 }), venueSet, (e, json, edits, venues) => {
      let b: Uint8Array = json ? Buffer.from(JSON.stringify(wire(e))) : plain.pack(wire(e));
      for (const m of edits) b = applyByteEdit(b, m);
      assertResult(decode(b, venues));
    }), fuzzParams(3000));
  });

  it('deeply nested values in any field: a result, never a throw (no stack overflow)', () => {
    fc.assert(fc.property(validEvent, fc.constantFrom('v', 'type', 'venue', 'symbol', 'id', 'side', 'price', 'bids', 'posSide', 'action', 'extra'),
      fc.integer({ min: 1, max: 150_000 }), fc.boolean(), fc.boolean(), (e, field, depth, json, arrays) => {
        const o = wire(e);
        delete o[field];
        let bytes: Uint8Array;
        if (json) {
          const nested = arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
          bytes = Buffer.from(JSON.stringify(o).slice(0, -1) + `,${JSON.stringify(field)}:${nested}}`);
        } else {
          const keys = Object.keys(o).length + 1;
          const body = plain.pack(o).subarray(1); // after the fixmap header (at most 15 keys)
          const one = arrays ? [0x91] : [0x81, 0xa1, 0x61];
          const nested = new Uint8Array(depth * one.length + 1);
          for (let i = 0; i < depth; i++) nested.set(one, i * one.length);
          nested[nested.length - 1] = 0xc0;
          bytes = Buffer.concat([keys < 16 ? Uint8Array.of(0x80 | keys) : Uint8Array.of(0xde, 0, keys), body, plain.pack(field), nested]);
        }
        assertResult(decode(bytes));
      }), fuzzParams(60));
  });

  it('a msgpack string field is accepted exactly when its bytes are valid UTF-8 without NUL or U+FFFD', () => {
    const PLACEHOLDER = 'P'.repeat(20);
    const chunk = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 4 }).map((s) => Buffer.from(s)),
      fc.constantFrom(...[[0x00], [0x80], [0xff], [0xc0, 0xaf], [0xc3], [0xed, 0xa0, 0x80], [0xed, 0xb0, 0x80], [0xf4, 0x90, 0x80, 0x80],
        [0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbf, 0xbd], [0xe2, 0x82]].map((b) => Buffer.from(b))),
      fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b)),
    );
    fc.assert(fc.property(tradeEvent, fc.constantFrom('symbol', 'id', 'venue'), fc.array(chunk, { maxLength: 12 }), (e, field, chunks) => {
      const raw = Buffer.concat(chunks);
      const template = plain.pack({ ...wire(e), [field]: PLACEHOLDER });
      const at = template.indexOf(Buffer.concat([Uint8Array.of(0xa0 | PLACEHOLDER.length), Buffer.from(PLACEHOLDER)]));
      assert.ok(at > 0);
      const bytes = Buffer.concat([template.subarray(0, at), Uint8Array.of(0xd9, raw.length), raw, template.subarray(at + 1 + PLACEHOLDER.length)]);
      let expected = true;
      try {
        const s = utf8.decode(raw);
        expected = s.length > 0 && s.length <= MAX_TEXT && !/[\u0000\uFFFD]/.test(s);
      } catch {
        expected = false;
      }
      const r = decode(bytes);
      assertResult(r);
      assert.equal(r.ok, expected, `${field} ${raw.toString('hex')}: ${JSON.stringify(r)}`);
      if (!r.ok) {
        assert.equal(r.failure.code, 'SCHEMA_INVALID');
        assert.match(r.failure.message, new RegExp(`\\b${field}\\b`));
      }
    }), fuzzParams(3000));
  });

  it('a JSON string field (escapes included) is accepted exactly when it is well-formed text without NUL or U+FFFD', () => {
    fc.assert(fc.property(tradeEvent, fc.constantFrom('symbol', 'id'), fc.string({ unit: 'binary', maxLength: 12 }), (e, field, s) => {
      // JSON.stringify writes a lone surrogate as a \udXXX escape, which JSON.parse reads back as one.
      const r = decode(Buffer.from(JSON.stringify({ ...wire(e), [field]: s })));
      assertResult(r);
      assert.equal(r.ok, s.length > 0 && !UNSTORABLE.test(s), `${field} ${JSON.stringify(s)}: ${JSON.stringify(r)}`);
    }), fuzzParams(3000));
  });

  it('memory stays bounded over many hostile messages (huge declared lengths fail before allocating)', () => {
    const small = HUGE_HEADERS.map((h) => Uint8Array.from([...h, 0x61, 0x62, 0x63, 0x64]));
    const before = memoryInUse();
    for (let round = 0; round < 200; round++) {
      for (const b of small) {
        // msgpackr's message when a declared length exceeds the bytes left, checked before it allocates.
        assert.deepEqual(decode(b), { ok: false, failure: { code: 'DECODE_FAILED', message: 'not msgpack or JSON: Unexpected end of MessagePack data' } });
      }
    }
    fc.assert(fc.property(validEvent, fc.array(byteEdit, { minLength: 1, maxLength: 4 }), (e, edits) => {
      let b: Uint8Array = plain.pack(wire(e));
      for (const m of edits) b = applyByteEdit(b, m);
      decode(b);
    }), fuzzParams(3000));
    const grown = memoryInUse() - before;
    // Generous (garbage not yet collected counts too): this catches what a decode keeps, e.g. a cache growing per message.
    assert.ok(grown < 256 * 1024 * 1024, `memory grew by ${(grown / 1048576).toFixed(1)} MiB`);
  });
});
