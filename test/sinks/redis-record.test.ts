import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteWriter } from '../../src/sinks/byte-writer.js';
import { RECORD_HEADER_BYTES, readRedisRecord, recordJsonSpan, writeRedisRecord } from '../../src/sinks/redis-record.js';

describe('Redis records', () => {
  const w = new ByteWriter(64);
  writeRedisRecord(w, 12345, 1_700_000_000_123_456, 1, 'okx', 'BTC-USDT', 't:77', '{"p":1}', '');
  const second = w.length;
  // Multi-byte text: every length is in bytes, not UTF-16 units.
  writeRedisRecord(w, 12346, 1_700_000_000_200_000, 2, 'kraken', 'ÉTH-€', 'q:é', '{"s":"ü"}', '[{"id":"V1"}]');
  const records = w.take();

  it('reads back what was written, at each record start', () => {
    assert.deepEqual({ ...readRedisRecord(records, 0), json: readRedisRecord(records, 0).json.toString() },
      { offset: 12345, tsUs: 1_700_000_000_123_456, verdict: 1, venue: 'okx', symbol: 'BTC-USDT', eventKey: 't:77', json: '{"p":1}', details: '' });
    const r = readRedisRecord(records, second);
    assert.deepEqual([r.offset, r.verdict, r.venue, r.symbol, r.eventKey, r.json.toString(), r.details],
      [12346, 2, 'kraken', 'ÉTH-€', 'q:é', '{"s":"ü"}', '[{"id":"V1"}]']);
  });

  it('carries the stream and the recent-set member joined, as the script takes them', () => {
    const body = Buffer.from(records.buffer, records.byteOffset + RECORD_HEADER_BYTES, second - RECORD_HEADER_BYTES).toString();
    assert.equal(body, 'okx:BTC-USDTokx|t:77{"p":1}');
  });

  it('finds the JSON span without reading the strings', () => {
    const [from, to] = recordJsonSpan(records, second);
    assert.equal(Buffer.from(records.subarray(from, to)).toString(), '{"s":"ü"}');
    assert.equal(to + Buffer.byteLength('[{"id":"V1"}]'), records.length);
  });
});
