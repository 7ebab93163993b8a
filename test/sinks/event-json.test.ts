import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeEvent } from '../../src/codec/decode.js';
import { encodeEvent } from '../../src/codec/encode.js';
import type { MarketEvent } from '../../src/codec/event.js';
import { normalizeRecording } from '../../src/replay/recording.js';
import { ByteWriter } from '../../src/sinks/byte-writer.js';
import { writeEventJson, type JsonVerdict } from '../../src/sinks/event-json.js';
import { writeEventKey } from '../../src/sinks/redis-record.js';
import { validEvent } from '../helpers/event-arbitraries.js';
import { fuzzParams } from '../helpers/fuzz.js';
import { recordingFiles } from '../helpers/recordings.js';
import { referenceEventJson, referenceEventKey } from '../helpers/reference-json.js';

/** The event as the worker sees it: through the wire and the decoder (canonical field order). */
function decoded(e: MarketEvent): MarketEvent {
  const bytes = encodeEvent(e);
  const r = decodeEvent(bytes, 0, bytes.length);
  assert.ok(r.ok, JSON.stringify(r));
  return r.event;
}

function written(write: (w: ByteWriter) => number): string {
  // A small writer: every write also exercises growing the buffer.
  const w = new ByteWriter(8);
  w.u8(0x2a);
  const n = write(w);
  const bytes = w.take();
  assert.equal(n, bytes.length - 1, 'the returned length is the bytes written');
  assert.equal(bytes[0], 0x2a, 'what was before is kept');
  return Buffer.from(bytes.subarray(1)).toString();
}

const verdict: fc.Arbitrary<JsonVerdict> = fc.record({
  verdict: fc.integer({ min: 0, max: 2 }), failedLo: fc.nat({ max: 0xffffffff }), failedHi: fc.nat({ max: 0xffffffff }), score: fc.double({ min: 0, max: 1, noNaN: true }),
});

describe('event JSON written into the worker buffer', () => {
  it('is byte for byte JSON.stringify of the decoded event with its verdict, for any valid event', () => {
    fc.assert(fc.property(validEvent, verdict, (raw, o) => {
      const e = decoded(raw);
      const json = written((w) => writeEventJson(w, e, o));
      assert.equal(json, referenceEventJson(e, o));
      JSON.parse(json);
    }), fuzzParams(2000));
  });

  it('writes the venue event key as its definition says, for any valid event', () => {
    fc.assert(fc.property(validEvent, (raw) => {
      const e = decoded(raw);
      assert.equal(written((w) => writeEventKey(w, e)), referenceEventKey(e));
    }), fuzzParams(1000));
  });

  it('is the same for every event of the real recordings', (t) => {
    const files = recordingFiles();
    if (files.length === 0) { t.skip('no recordings beside the repository'); return; }
    const o = { verdict: 1, failedLo: 0x80000001, failedHi: 3, score: 0.25 };
    let n = 0;
    for (const f of files) {
      for (const raw of normalizeRecording(f)) {
        const e = decoded(raw);
        assert.equal(written((w) => writeEventJson(w, e, o)), referenceEventJson(e, o), f);
        assert.equal(written((w) => writeEventKey(w, e)), referenceEventKey(e), f);
        n++;
      }
    }
    assert.ok(n > 1000, `${n} events`);
  });
});

describe('ByteWriter text and numbers', () => {
  it('writes numbers as String() does, integers digit by digit', () => {
    for (const v of [0, -0, 7, -7, 10, 99, 100, 123456789, -987654321, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
      2 ** 53, 1e21, 1.5, -0.000001, 1e-7, 5e-324, 0.1 + 0.2]) {
      assert.equal(written((w) => w.decimal(v)), String(v), String(v));
    }
    for (const v of [0.1, 0.3, 0.1 + 0.2, 67123.45, -67123.45, 0.000001, 0.0000015, 0.00000099, 1e-6, 123456789.12345678, 2 ** 49 + 0.125,
      999999999999999.9, 1e15 - 0.5, 1e15 + 0.5, 4.35, 1.005, 8.675309, 0.12345678, 0.123456789]) {
      assert.equal(written((w) => w.decimal(v)), String(v), String(v));
    }
    // Prices and sizes as venues print them: an integer with a few decimals.
    const printed = fc.tuple(fc.integer({ min: -(2 ** 53), max: 2 ** 53 }), fc.integer({ min: 0, max: 12 })).map(([m, k]) => m / 10 ** k);
    fc.assert(fc.property(fc.oneof(fc.maxSafeInteger(), fc.double(), printed), (v) => {
      assert.equal(written((w) => w.decimal(v)), String(v));
      assert.equal(written((w) => w.jsonNumber(v)), JSON.stringify(v));
    }), fuzzParams(2000));
  });

  it('writes JSON strings escaped exactly as JSON.stringify does', () => {
    for (const s of ['', 'BTC-USDT', 'a"b', 'a\\b', 'a\u001f', 'a\u007e~', '\n\t\u0001\u001f', '\u007f', 'é€😀', '\u2028', '\ud800']) {
      assert.equal(written((w) => w.jsonString(s)), JSON.stringify(s), JSON.stringify(s));
    }
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
      assert.equal(written((w) => w.jsonString(s)), JSON.stringify(s));
    }), fuzzParams(2000));
  });

  it('writes text as UTF-8, short ASCII by its fast path and the rest by the encoder', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), (s) => {
      assert.equal(written((w) => w.writeCounted(s)), s);
    }), fuzzParams(2000));
    const long = 'x'.repeat(1000) + 'é';
    assert.equal(written((w) => w.writeCounted(long)), long);
  });
});
