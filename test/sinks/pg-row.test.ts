import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Verdict } from '../../src/codec/event.js';
import { ByteWriter } from '../../src/sinks/byte-writer.js';
import { EVENT_COLUMN_NAMES, copyText, encodeCopyRow, formatTimestampUs, writeBinaryRow } from '../../src/sinks/pg-row.js';

describe('COPY row encoding', () => {
  it('formats µs timestamps as PostgreSQL timestamptz text', () => {
    assert.equal(formatTimestampUs(0), '1970-01-01 00:00:00.000000+00');
    assert.equal(formatTimestampUs(1_633_998_523_963_123), '2021-10-12 00:28:43.963123+00');
    assert.equal(formatTimestampUs(1_633_998_523_000_001), '2021-10-12 00:28:43.000001+00');
    assert.equal(formatTimestampUs(1_633_998_524_999_999), '2021-10-12 00:28:44.999999+00');
  });

  it('escapes the characters COPY text format treats specially', () => {
    assert.equal(copyText('plain'), 'plain');
    assert.equal(copyText('a\tb\nc\\d\re'), 'a\\tb\\nc\\\\d\\re');
  });

  it('writes one field per column, NULLs as \\N, and a 64-bit check set', () => {
    const row = encodeCopyRow(
      { v: 1, type: 'trade', venue: 'okx', symbol: 'BTC-USDT', ts: 1_000_000, recvTs: 2_000_000, id: 't\t1', price: 1.5, size: 2, side: '' },
      { verdict: Verdict.FLAGGED, failedLo: 0x80000000, failedHi: 1, score: 0.75 }, 3, 1234);
    assert.ok(row.endsWith('\n'));
    const fields = row.slice(0, -1).split('\t');
    assert.equal(fields.length, EVENT_COLUMN_NAMES.length);
    const f = Object.fromEntries(EVENT_COLUMN_NAMES.map((n, i) => [n, fields[i]]));
    assert.equal(f.event_id, 't\\t1');
    assert.equal(f.side, '\\N');
    assert.equal(f.bid, '\\N');
    assert.equal(f.ts, '1970-01-01 00:00:01.000000+00');
    assert.deepEqual([f.verdict, f.failed_checks, f.quality, f.src_partition, f.src_offset], ['1', String(2 ** 32 + 2 ** 31), '0.75', '3', '1234']);
  });
});

describe('binary COPY row encoding', () => {
  /** Splits one binary row into its fields (null for -1 lengths). */
  function fields(bytes: Uint8Array): Array<Buffer | null> {
    const b = Buffer.from(bytes);
    const count = b.readInt16BE(0);
    const out: Array<Buffer | null> = [];
    let at = 2;
    for (let i = 0; i < count; i++) {
      const len = b.readInt32BE(at);
      at += 4;
      if (len < 0) out.push(null);
      else { out.push(b.subarray(at, at + len)); at += len; }
    }
    assert.equal(at, b.length, 'the row ends after its last field');
    return out;
  }

  it('writes every column in order: network-order numbers, µs since 2000 for timestamps, NULLs as -1', () => {
    const w = new ByteWriter(16);
    writeBinaryRow(w,
      { v: 1, type: 'trade', venue: 'okx', symbol: 'BTC-USDT', ts: 946_684_800_000_001, recvTs: 946_684_799_999_999, id: 't\t1é', price: 1.5, size: 2, side: '', offBook: true },
      { verdict: Verdict.FLAGGED, failedLo: 0x80000000, failedHi: 0x80000001, score: 0.75 }, 3, 2 ** 40 + 7);
    const f = fields(w.take());
    assert.equal(f.length, EVENT_COLUMN_NAMES.length);
    const col = Object.fromEntries(EVENT_COLUMN_NAMES.map((n, i) => [n, f[i]]));
    assert.equal(col.ts!.readBigInt64BE(0), 1n);
    assert.equal(col.recv_ts!.readBigInt64BE(0), -1n);
    assert.equal(col.venue!.toString(), 'okx');
    assert.equal(col.event_id!.toString(), 't\t1é', 'no escaping in binary');
    assert.equal(col.side, null);
    assert.equal(col.price!.readDoubleBE(0), 1.5);
    assert.equal(col.bid, null);
    assert.equal(col.payload![0], 1, 'jsonb version byte');
    assert.equal(col.payload!.subarray(1).toString(), '{"offBook":true}');
    assert.equal(col.verdict!.readInt16BE(0), 1);
    assert.equal(col.failed_checks!.readBigInt64BE(0), BigInt.asIntN(64, (0x80000001n << 32n) | 0x80000000n));
    assert.equal(col.quality!.readFloatBE(0), 0.75);
    assert.equal(col.src_partition!.readInt32BE(0), 3);
    assert.equal(col.src_offset!.readBigInt64BE(0), 2n ** 40n + 7n);
  });

  it('stores book sequences as bigint and the levels as jsonb', () => {
    const w = new ByteWriter(16);
    writeBinaryRow(w,
      { v: 1, type: 'book', venue: 'okx', symbol: 'BTC-USDT', ts: 1, recvTs: 2, action: 'delta', seq: 2 ** 33 + 1, prevSeq: 2 ** 33, bids: [[1, 2]], asks: [] },
      { verdict: Verdict.ACCEPTED, failedLo: 0, failedHi: 0, score: 1 }, 0, 0);
    const f = fields(w.take());
    const col = Object.fromEntries(EVENT_COLUMN_NAMES.map((n, i) => [n, f[i]]));
    assert.equal(col.event_id!.toString(), String(2 ** 33 + 1));
    assert.equal(col.side!.toString(), 'delta');
    assert.equal(col.seq!.readBigInt64BE(0), 2n ** 33n + 1n);
    assert.equal(col.prev_seq!.readBigInt64BE(0), 2n ** 33n);
    const levels = JSON.parse(col.payload!.subarray(1).toString()) as { bids: unknown };
    assert.deepEqual(levels.bids, [[1, 2]]);
    assert.equal(col.price, null);
  });
});

describe('market type and contract size in the payload column', () => {
  const payloadOf = (e: Parameters<typeof writeBinaryRow>[1]): string | null => {
    const w = new ByteWriter(16);
    writeBinaryRow(w, e, { verdict: Verdict.ACCEPTED, failedLo: 0, failedHi: 0, score: 1 }, 0, 0);
    const b = Buffer.from(w.take());
    let at = 2;
    for (let i = 0; i < EVENT_COLUMN_NAMES.length; i++) {
      const len = b.readInt32BE(at);
      at += 4;
      if (EVENT_COLUMN_NAMES[i] === 'payload') return len < 0 ? null : b.subarray(at + 1, at + len).toString();
      if (len > 0) at += len;
    }
    return null;
  };
  const head = { v: 1 as const, venue: 'binance-coinm', symbol: 'BTC-USD-PERP', ts: 1, recvTs: 2 };

  it('every event type keeps them (and an off-book flag beside them); none of them: NULL as before', () => {
    assert.equal(payloadOf({ ...head, type: 'trade', id: '1', price: 1, size: 1, side: 'buy' }), null);
    assert.equal(payloadOf({ ...head, type: 'trade', id: '1', price: 1, size: 1, side: 'buy', market: 'perp', contractSize: 100 }), '{"market":"perp","contractSize":100}');
    assert.equal(payloadOf({ ...head, type: 'trade', id: '1', price: 1, size: 1, side: 'buy', market: 'perp', offBook: true }), '{"offBook":true,"market":"perp"}');
    assert.equal(payloadOf({ ...head, type: 'quote', bid: 1, bidSize: 1, ask: 2, askSize: 1, market: 'spot' }), '{"market":"spot"}');
    assert.equal(payloadOf({ ...head, type: 'liquidation', posSide: 'long', price: 1, size: 1, market: 'future', contractSize: 10 }), '{"market":"future","contractSize":10}');
    const book = JSON.parse(payloadOf({ ...head, type: 'book', action: 'delta', seq: 1, bids: [], asks: [], market: 'perp', contractSize: 100 })!) as Record<string, unknown>;
    assert.deepEqual([book.market, book.contractSize], ['perp', 100]);
    // The per-thread cache follows a change of extras from one event to the next.
    assert.equal(payloadOf({ ...head, type: 'trade', id: '2', price: 1, size: 1, side: 'buy', market: 'spot' }), '{"market":"spot"}');
    assert.equal(payloadOf({ ...head, type: 'trade', id: '3', price: 1, size: 1, side: 'buy' }), null);
  });
});
