import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Verdict } from '../../src/codec/event.js';
import { EVENT_COLUMN_NAMES, copyText, encodeCopyRow, formatTimestampUs } from '../../src/sinks/pg-row.js';

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
