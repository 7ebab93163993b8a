import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchPacker, PackedBatch, packValues, packedSize } from '../../src/batch/pack.js';

describe('batch packing', () => {
  it('round-trips values, offsets and partitions through the moved buffer layout', () => {
    const values = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('hello world'), Buffer.from([0xc1, 0xff])];
    const offsets = [10, 11, 2 ** 40 + 5, 13];
    const buffer = new ArrayBuffer(packedSize(values.length, 14));
    const packer = new BatchPacker(buffer);
    packer.reset(buffer, values.length);
    const partitions = [0, 3, 3, 7];
    values.forEach((v, i) => assert.equal(packer.append(v, offsets[i]!, partitions[i]!), true));
    const batch = new PackedBatch(packer.finish());
    assert.equal(batch.count, 4);
    for (let i = 0; i < values.length; i++) {
      assert.deepEqual(Buffer.from(batch.bytes.subarray(batch.messageStart(i), batch.messageEnd(i))), values[i]);
      assert.equal(batch.offset(i), offsets[i]);
      assert.equal(batch.partition(i), partitions[i]);
    }
  });

  it('packs a list of values into an exactly sized batch with consecutive offsets', () => {
    const values = [Buffer.from('ab'), Buffer.alloc(0), Buffer.from('xyz')];
    const buffer = packValues(values, 40, 5);
    assert.equal(buffer.byteLength, packedSize(3, 5));
    const batch = new PackedBatch(buffer);
    assert.equal(batch.count, 3);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(Buffer.from(batch.value(i)), values[i]);
      assert.equal(batch.offset(i), 40 + i);
      assert.equal(batch.partition(i), 5);
    }
  });

  it('refuses a message that does not fit, and more messages than the capacity', () => {
    const buffer = new ArrayBuffer(packedSize(2, 4));
    const packer = new BatchPacker(buffer);
    packer.reset(buffer, 2);
    assert.equal(packer.append(Buffer.from('abcde'), 0), false);
    assert.equal(packer.append(Buffer.from('ab'), 0), true);
    assert.equal(packer.append(Buffer.from('cd'), 1), true);
    assert.equal(packer.append(Buffer.from(''), 2), false);
    assert.equal(new PackedBatch(packer.finish()).count, 2);
  });

  it('reuses a buffer: a smaller second batch reads only its own messages', () => {
    const buffer = new ArrayBuffer(1024);
    const packer = new BatchPacker(buffer);
    packer.reset(buffer, 3);
    for (const s of ['one', 'two', 'three']) packer.append(Buffer.from(s), 0);
    packer.finish();
    packer.reset(buffer, 1);
    packer.append(Buffer.from('x'), 99);
    const batch = new PackedBatch(packer.finish());
    assert.equal(batch.count, 1);
    assert.equal(Buffer.from(batch.bytes.subarray(batch.messageStart(0), batch.messageEnd(0))).toString(), 'x');
    assert.equal(batch.offset(0), 99);
  });

  it('rejects a corrupt header', () => {
    const buffer = new ArrayBuffer(16);
    new DataView(buffer).setUint32(0, 5, true); // count 5, capacity 0
    assert.throws(() => new PackedBatch(buffer), /corrupt batch header/);
  });
});
