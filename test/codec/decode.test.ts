import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pack } from 'msgpackr';
import { decodeEvent, MAX_TEXT_LENGTH } from '../../src/codec/decode.js';
import { encodeEvent } from '../../src/codec/encode.js';
import { canonicalEvent, type MarketEvent } from '../../src/codec/event.js';
import { poisonMessage } from '../../src/codec/synthetic.js';

const trade: MarketEvent = { v: 1, type: 'trade', venue: 'binance', symbol: 'BTC-USDT', ts: 1_700_000_000_000_000, recvTs: 1_700_000_000_001_000, id: '42', price: 65000.5, size: 0.01, side: 'buy' };

function decode(bytes: Uint8Array, venues?: ReadonlySet<string>) {
  return decodeEvent(bytes, 0, bytes.length, venues);
}

/** `event` as msgpack with `field` holding exactly `raw` as its string bytes (valid UTF-8 or not). */
function withRawString(event: object, field: string, raw: number[]): Buffer {
  const marker = 'M'.repeat(20);
  const b = pack({ ...event, [field]: marker });
  const at = b.indexOf(Buffer.from([0xa0 | marker.length, ...Buffer.from(marker)]));
  return Buffer.concat([b.subarray(0, at), Buffer.from([0xd9, raw.length, ...raw]), b.subarray(at + 1 + marker.length)]);
}

function json(value: object, replace?: [string, string]): Buffer {
  const text = JSON.stringify(value);
  return Buffer.from(replace === undefined ? text : text.replace(replace[0], replace[1]));
}

const liquidation = { v: 1, type: 'liquidation', venue: 'bybit', symbol: 'BTC-USDT', ts: 1, recvTs: 1, posSide: 'long', price: 1, size: 1 };
const book = { v: 1, type: 'book', venue: 'okx', symbol: 'BTC-USDT', ts: 1, recvTs: 1, action: 'delta', seq: 1, bids: [[1, 2]], asks: [] };

describe('event decoding', () => {
  it('round-trips every event type through msgpack', () => {
    const events: MarketEvent[] = [
      trade,
      { v: 1, type: 'quote', venue: 'okx', symbol: 'ETH-USDT', ts: 1, recvTs: 2, bid: 1.5, bidSize: 3, ask: 1.6, askSize: 4, updateId: 99 },
      { v: 1, type: 'liquidation', venue: 'bybit', symbol: 'BTC-USDT', ts: 1, recvTs: 2, posSide: 'long', price: 60000, size: 1.25 },
      { v: 1, type: 'book', venue: 'kraken', symbol: 'XMR-USD', ts: 1, recvTs: 2, action: 'delta', seq: 7, prevSeq: 6, checksum: 1822697057, bids: [[354.12, 0]], asks: [] },
    ];
    for (const e of events) {
      const r = decode(encodeEvent(e));
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.event, canonicalEvent(e));
      assert.equal(JSON.stringify(r.event), JSON.stringify(canonicalEvent(e)), 'absent optional fields stay absent in JSON');
    }
  });

  it('hands the checks one shape per event type, whatever the producer\'s field order', () => {
    const reordered = { price: 65000.5, size: 0.01, side: 'buy', id: '42', recvTs: 1_700_000_000_001_000, ts: 1_700_000_000_000_000, symbol: 'BTC-USDT', venue: 'binance', type: 'trade', v: 1 };
    const a = decode(encodeEvent(trade));
    const b = decode(pack(reordered));
    assert.ok(a.ok && b.ok);
    assert.deepEqual(Object.keys(a.event), Object.keys(b.event));
  });

  it('accepts JSON from the old producers, decimal strings included', () => {
    const r = decode(Buffer.from(JSON.stringify({ ...trade, price: '65000.50', size: '0.0100' })));
    assert.ok(r.ok);
    assert.equal(r.ok && r.event.type === 'trade' && r.event.price, 65000.5);
  });

  it('decodes a slice of a larger buffer without copying it out', () => {
    const a = encodeEvent(trade);
    const b = Buffer.concat([Buffer.from([1, 2, 3]), a, Buffer.from([9])]);
    const r = decodeEvent(b, 3, 3 + a.length);
    assert.ok(r.ok);
  });

  const cases: Array<[string, Uint8Array, string, RegExp]> = [
    ['garbage bytes', poisonMessage(0), 'DECODE_FAILED', /not msgpack or JSON/],
    ['truncated JSON', poisonMessage(1), 'DECODE_FAILED', /not msgpack or JSON/],
    ['unknown version', poisonMessage(2), 'SCHEMA_INVALID', /unknown schema version 99/],
    ['empty message', new Uint8Array(0), 'DECODE_FAILED', /./],
    ['not a map', pack([1, 2, 3]), 'SCHEMA_INVALID', /must be a map/],
    ['unknown type', pack({ ...trade, type: 'candle' }), 'SCHEMA_INVALID', /unknown event type "candle"/],
    ['missing symbol', pack({ ...trade, symbol: '' }), 'SCHEMA_INVALID', /symbol missing/],
    ['float timestamp', pack({ ...trade, ts: 1.5 }), 'SCHEMA_INVALID', /ts must be/],
    ['NaN price', pack({ ...trade, price: NaN }), 'SCHEMA_INVALID', /price must be a finite number/],
    ['bad decimal', Buffer.from(JSON.stringify({ ...trade, price: '1,5' })), 'SCHEMA_INVALID', /price/],
    ['bad side', pack({ ...trade, side: 'long' }), 'SCHEMA_INVALID', /side "long"/],
    ['bad book level', pack({ v: 1, type: 'book', venue: 'x', symbol: 'y', ts: 1, recvTs: 1, action: 'delta', seq: 1, bids: [[1]], asks: [] }), 'SCHEMA_INVALID', /bids/],
    ['liquidation side', pack({ v: 1, type: 'liquidation', venue: 'x', symbol: 'y', ts: 1, recvTs: 1, posSide: 'sell', price: 1, size: 1 }), 'SCHEMA_INVALID', /posSide/],
  ];
  for (const [name, bytes, code, message] of cases) {
    it(`reports ${name} as ${code}`, () => {
      const r = decode(bytes);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.failure.code, code);
        assert.match(r.failure.message, message);
      }
    });
  }
});

describe('inputs a sink would refuse are dead-lettered by the decoder', () => {
  // One case per rule: [what, message bytes, the exact failure message]. All SCHEMA_INVALID.
  const refused: Array<[string, Uint8Array, string]> = [
    ['NUL in the venue', pack({ ...trade, venue: 'bin\u0000ance' }), 'venue contains NUL (U+0000)'],
    ['NUL in the symbol (JSON escape)', json(trade, ['BTC-USDT', 'BTC\\u0000USDT']), 'symbol contains NUL (U+0000)'],
    ['NUL in a trade id', pack({ ...trade, id: '4\u00002' }), 'trade: id contains NUL (U+0000)'],
    ['NUL in a liquidation id', pack({ ...liquidation, id: '\u0000' }), 'liquidation: id contains NUL (U+0000)'],
    ['invalid UTF-8 in a msgpack string (msgpackr reads it as U+FFFD)', withRawString(trade, 'symbol', [0x42, 0xff, 0x43]), 'symbol contains U+FFFD (invalid UTF-8 in the message)'],
    ['a UTF-8-encoded surrogate (CESU-8) in a msgpack string', withRawString(trade, 'id', [0xed, 0xa0, 0x80]), 'trade: id contains U+FFFD (invalid UTF-8 in the message)'],
    ['a lone high surrogate (JSON escape)', json(trade, ['"42"', '"4\\ud8002"']), 'trade: id contains an unpaired surrogate (not encodable as UTF-8)'],
    ['a lone low surrogate (JSON escape)', json(trade, ['BTC-USDT', '\\udc00BTC']), 'symbol contains an unpaired surrogate (not encodable as UTF-8)'],
    ['a venue, symbol or id longer than the Redis record holds', pack({ ...trade, symbol: 'S'.repeat(MAX_TEXT_LENGTH + 1) }), `symbol longer than ${MAX_TEXT_LENGTH} characters`],
    ['a timestamp past 2^53 µs (int64 on the wire)', pack({ ...trade, ts: 2 ** 60 }), 'ts must be an integer (µs) in 0..2^53-1'],
    ['a negative timestamp', pack({ ...trade, recvTs: -1 }), 'recvTs must be an integer (µs) in 0..2^53-1'],
    ['a sequence past 2^53 (bigint column, but not exact in a double)', pack({ ...book, seq: 2 ** 53 + 2 }), 'book: seq must be an integer in ±(2^53-1)'],
    ['an update id past 2^53', pack({ ...trade, type: 'quote', bid: 1, bidSize: 1, ask: 2, askSize: 1, updateId: -(2 ** 60) }), 'quote: updateId must be an integer in ±(2^53-1)'],
    ['a numeric trade id past 2^53', pack({ ...trade, id: 2 ** 60 }), 'trade: id must be a string or an integer in ±(2^53-1)'],
    ['a decimal string beyond float64', json({ ...trade, price: '1e400' }), 'trade: price must be a finite number'],
    ['a book level with a third element (jsonb payload)', pack({ ...book, asks: [[1, 2, 'x\u0000']] }), 'book: asks must be [price, size] pairs'],
  ];
  for (const [name, bytes, message] of refused) {
    it(`refuses ${name}`, () => {
      const r = decode(bytes);
      assert.deepEqual(r, { ok: false, failure: { code: 'SCHEMA_INVALID', message } });
    });
  }

  it('accepts what they can store: emoji (surrogate pairs), other scripts, the longest text allowed', () => {
    for (const symbol of ['😀-USDT', 'ЁЖ-€', '比特币-USDT', 'x'.repeat(MAX_TEXT_LENGTH)]) {
      for (const bytes of [pack({ ...trade, symbol, id: symbol }), json({ ...trade, symbol, id: symbol })]) {
        const r = decode(bytes);
        assert.ok(r.ok, JSON.stringify(r));
        assert.deepEqual([r.event.symbol, r.event.type === 'trade' && r.event.id], [symbol, symbol]);
      }
    }
  });
});

describe('known venues', () => {
  const known: ReadonlySet<string> = new Set(['binance', 'okx']);

  it('refuses a venue outside the set it is given, naming it and the config key', () => {
    assert.deepEqual(decode(pack({ ...trade, venue: 'ftx' }), known),
      { ok: false, failure: { code: 'SCHEMA_INVALID', message: 'unknown venue "ftx" (not in checks.knownVenues)' } });
    assert.deepEqual(decode(Buffer.from(JSON.stringify({ ...trade, venue: 'Binance' })), known),
      { ok: false, failure: { code: 'SCHEMA_INVALID', message: 'unknown venue "Binance" (not in checks.knownVenues)' } });
  });

  it('accepts a venue in the set, and any venue without a set (tests, benchmarks)', () => {
    assert.ok(decode(pack({ ...trade, venue: 'okx' }), known).ok);
    assert.ok(decode(pack({ ...trade, venue: 'ftx' })).ok);
  });
});

describe('decoder regressions (fuzzing counterexamples and review)', () => {
  const cases: Array<[string, Uint8Array, string]> = [
    // JSON.stringify of the value for the message threw: the decoder threw into the batch loop.
    ['a BigInt schema version (msgpack ext 0x42)', Uint8Array.of(0x81, 0xa1, 0x76, 0xd4, 0x42, 0x01), 'unknown schema version a bigint'],
    ['a map holding a BigInt as the version', Uint8Array.of(0x81, 0xa1, 0x76, 0x81, 0xa0, 0xd4, 0x42, 0x01), 'unknown schema version an object'],
    ['4,110 nested arrays as the version (JSON)', Buffer.from(`{"v":${'['.repeat(4110)}${']'.repeat(4110)}}`), 'unknown schema version an array'],
    // The message echoed the whole value into a Kafka header.
    ['a 1,000-character event type', pack({ ...trade, type: 'x'.repeat(1000) }), `unknown event type "${'x'.repeat(40)}…"`],
  ];
  for (const [name, bytes, message] of cases) {
    it(`reports ${name} as SCHEMA_INVALID`, () => {
      assert.deepEqual(decode(bytes), { ok: false, failure: { code: 'SCHEMA_INVALID', message } });
    });
  }

  it('an empty message at the start of a buffer is empty, not the event after it', () => {
    // msgpackr read `end: 0` as the end of the buffer.
    const b = encodeEvent(trade);
    assert.deepEqual(decodeEvent(b, 0, 0), { ok: false, failure: { code: 'DECODE_FAILED', message: 'empty message' } });
  });

  it('a 200 kB digit string with a stray character is refused (the decimal pattern was quadratic: minutes)', () => {
    const r = decode(pack({ ...trade, price: '1'.repeat(200_000) + 'x' }));
    assert.deepEqual(r, { ok: false, failure: { code: 'SCHEMA_INVALID', message: 'trade: price must be a finite number' } });
  });

  it('a 10-byte message declaring a 4 GiB string, binary, array or map fails without allocating it', () => {
    for (const head of [[0xdb], [0xc6], [0xdd], [0xdf], [0xc9]]) {
      const r = decode(Uint8Array.from([...head, 0xff, 0xff, 0xff, 0xff, 0x42, 0x61, 0x62, 0x63, 0x64].slice(0, 10)));
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.failure.code, 'DECODE_FAILED');
    }
  });
});
