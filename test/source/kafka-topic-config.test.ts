import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeResponse, encodeRequest } from '../../src/source/kafka-topic-config.js';

/** A DescribeConfigs v1 response body as a broker writes it (after the length prefix and correlation id). */
function response(entries: Array<[string, string | null]>, options: { error?: number; message?: string; topic?: string } = {}): Buffer {
  const parts: Buffer[] = [];
  const i8 = (v: number) => parts.push(Buffer.from([v & 0xff]));
  const i16 = (v: number) => { const b = Buffer.alloc(2); b.writeInt16BE(v); parts.push(b); };
  const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v); parts.push(b); };
  const str = (s: string | null) => { if (s === null) { i16(-1); return; } const b = Buffer.from(s); i16(b.length); parts.push(b); };
  i32(0); i32(1);
  i16(options.error ?? 0); str(options.message ?? null); i8(2); str(options.topic ?? 'dlq');
  i32(entries.length);
  for (const [k, v] of entries) { str(k); str(v); i8(0); i8(5); i8(0); i32(1); str(k); str(v); i8(5); }
  return Buffer.concat(parts);
}

describe('DescribeConfigs wire format', () => {
  it('encodes a v1 request body for one topic', () => {
    const req = encodeRequest('dlq', ['max.message.bytes']);
    let at = 0;
    assert.equal(req.readInt32BE(at), 1); at += 4;
    assert.equal(req.readInt8(at), 2, 'resource type topic'); at += 1;
    assert.equal(req.toString('utf8', at + 2, at + 2 + req.readInt16BE(at)), 'dlq'); at += 2 + 3;
    assert.equal(req.readInt32BE(at), 1); at += 4;
    assert.equal(req.toString('utf8', at + 2, at + 2 + req.readInt16BE(at)), 'max.message.bytes'); at += 2 + 17;
    assert.equal(req.readInt8(at), 0, 'no synonyms');
    assert.equal(at + 1, req.length);
  });

  it('decodes the entries, synonyms skipped and null values kept', () => {
    const out = decodeResponse(response([['max.message.bytes', '20000'], ['message.format.version', null]]), 'dlq');
    assert.deepEqual([...out], [['max.message.bytes', '20000'], ['message.format.version', null]]);
  });

  it('fails on a broker error, another topic, or a cut response', () => {
    assert.throws(() => decodeResponse(response([], { error: 3, message: 'unknown topic' }), 'dlq'), /broker error 3: unknown topic for dlq/);
    assert.throws(() => decodeResponse(response([['a', 'b']], { topic: 'other' }), 'dlq'), /no entry for dlq/);
    const whole = response([['max.message.bytes', '20000']]);
    for (const cut of [3, 10, whole.length - 1]) assert.throws(() => decodeResponse(whole.subarray(0, cut), 'dlq'), /cut short/);
  });
});
