import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MarketEvent } from '../../src/codec/event.js';
import { ByteWriter } from '../../src/sinks/byte-writer.js';
import { RECORD_HEADER_BYTES, readRedisRecord, recordJsonSpan, writeRedisRecord } from '../../src/sinks/redis-record.js';
import { referenceEventJson } from '../helpers/reference-json.js';

describe('Redis records', () => {
  const w = new ByteWriter(64);
  const trade: MarketEvent = { v: 1, type: 'trade', venue: 'okx', symbol: 'BTC-USDT', ts: 1_700_000_000_123_456, recvTs: 1_700_000_000_123_999, id: '77', price: 1, size: 2, side: 'buy' };
  const flagged = { verdict: 1, failedLo: 4, failedHi: 0, score: 0.5 };
  writeRedisRecord(w, 12345, trade, flagged, '');
  const second = w.length;
  // Multi-byte text: every length is in bytes, not UTF-16 units.
  const quote: MarketEvent = { v: 1, type: 'quote', venue: 'kraken', symbol: 'ÉTH-€', ts: 1_700_000_000_200_000, recvTs: 1_700_000_000_200_001, bid: 1, bidSize: 1, ask: 2, askSize: 1, updateId: 9 };
  const rejected = { verdict: 2, failedLo: 0, failedHi: 1, score: 0 };
  writeRedisRecord(w, 12346, quote, rejected, '[{"id":"V1"}]');
  const records = w.take();

  it('reads back what was written, at each record start', () => {
    const r0 = readRedisRecord(records, 0);
    assert.deepEqual({ ...r0, json: r0.json.toString() },
      { offset: 12345, tsUs: 1_700_000_000_123_456, verdict: 1, venue: 'okx', symbol: 'BTC-USDT', eventKey: 't:77', json: referenceEventJson(trade, flagged), details: '' });
    const r = readRedisRecord(records, second);
    assert.deepEqual([r.offset, r.verdict, r.venue, r.symbol, r.eventKey, r.json.toString(), r.details],
      [12346, 2, 'kraken', 'ÉTH-€', 'q:9', referenceEventJson(quote, rejected), '[{"id":"V1"}]']);
  });

  it('carries the stream and the recent-set member joined, as the script takes them', () => {
    const body = Buffer.from(records.buffer, records.byteOffset + RECORD_HEADER_BYTES, second - RECORD_HEADER_BYTES).toString();
    assert.equal(body, 'okx:BTC-USDTokx|t:77' + referenceEventJson(trade, flagged));
  });

  it('finds the JSON span without reading the strings', () => {
    const [from, to] = recordJsonSpan(records, second);
    assert.equal(Buffer.from(records.subarray(from, to)).toString(), referenceEventJson(quote, rejected));
    assert.equal(to + Buffer.byteLength('[{"id":"V1"}]'), records.length);
  });
});
