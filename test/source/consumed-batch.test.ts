import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BatchPacker, PackedBatch, packedSize } from '../../src/batch/pack.js';
import { TaskMessages } from '../../src/pool/task-messages.js';
import { ConsumedBatch, packConsumed, type ConsumedMessage } from '../../src/source/consumed-batch.js';
import { INTENDED_SEND_HEADER } from '../../src/source/intended-send.js';

const message = fc.record({
  topic: fc.constantFrom('trades', 'quotes', 'books'),
  partition: fc.integer({ min: 0, max: 11 }),
  offset: fc.integer({ min: 0, max: 2 ** 50 }),
  value: fc.option(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), { nil: null }),
  key: fc.option(fc.oneof(fc.string({ maxLength: 12 }), fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a))), { nil: null }),
  timestamp: fc.option(fc.integer({ min: 1, max: 2 ** 42 }), { nil: undefined }),
  intended: fc.option(fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), { nil: undefined }),
}).map(({ intended, ...m }): ConsumedMessage => (intended === undefined ? m : { ...m, headers: [{ 'x-other': 'a' }, { [INTENDED_SEND_HEADER]: `${intended}000000` }] }));

describe('consumed batch', () => {
  it('holds every field of every message as node-rdkafka handed it over', () => {
    fc.assert(fc.property(fc.array(message, { maxLength: 30 }), (messages) => {
      const topics: string[] = [];
      const packed = packConsumed(messages, topics);
      // What a thread receiving the buffer and the topic names reads back.
      const batch = new ConsumedBatch(packed.buffer, [...topics]);
      assert.equal(batch.count, messages.length);
      messages.forEach((m, i) => {
        assert.equal(batch.topic(i), m.topic);
        assert.equal(batch.partitions[i], m.partition);
        assert.equal(batch.offsets[i], m.offset);
        assert.equal(batch.timestampMs(i), m.timestamp);
        assert.equal(batch.valueIsNull(i), m.value === null);
        assert.deepEqual(Buffer.from(batch.value(i)), m.value ?? Buffer.alloc(0));
        assert.equal(batch.valueLength(i), m.value?.length ?? 0);
        assert.deepEqual(batch.key(i), m.key === null || m.key === undefined ? null : Buffer.from(m.key));
        const intended = m.headers === undefined ? undefined : Number(String(m.headers[1]![INTENDED_SEND_HEADER]).slice(0, -6));
        assert.equal(batch.sentMs[i], intended ?? m.timestamp ?? 0);
        if (i > 0) assert.equal(batch.samePartition(i, i - 1), m.topic === messages[i - 1]!.topic && m.partition === messages[i - 1]!.partition);
      });
    }));
  });

  it('refuses a buffer too short for the messages its header counts', () => {
    const batch = packConsumed([{ topic: 't', partition: 0, offset: 1, value: Buffer.from('abc') }]);
    assert.throws(() => new ConsumedBatch(batch.buffer.slice(0, batch.buffer.byteLength - 1), ['t']), /corrupt consumed batch/);
  });

  it('packs runs into a worker batch as appending each message would, oversized values empty', () => {
    fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 40 }), (messages, maxBytes) => {
      const batch = packConsumed(messages);
      const cut = Math.floor(messages.length / 2);
      const task = new TaskMessages([{ batch, from: cut, to: messages.length }, { batch, from: 0, to: cut }]);
      const order = [...messages.slice(cut), ...messages.slice(0, cut)];
      const size = packedSize(order.length, order.reduce((n, m) => n + (m.value !== null && m.value.length <= maxBytes ? m.value.length : 0), 0));
      const buffer = new ArrayBuffer(size);
      const packer = new BatchPacker(buffer);
      packer.reset(buffer, order.length);
      for (const run of task.runs) assert.equal(packer.appendRun(run.batch, run.from, run.to, maxBytes), true);
      const packed = new PackedBatch(packer.finish());
      assert.equal(packed.count, order.length);
      order.forEach((m, i) => {
        const expected = m.value === null || m.value.length > maxBytes ? Buffer.alloc(0) : m.value;
        assert.deepEqual(Buffer.from(packed.value(i)), expected);
        assert.equal(packed.offset(i), m.offset);
        assert.equal(packed.partition(i), m.partition);
        assert.equal(task.offset(i), m.offset);
      });
      // A slice of the task reads the same messages.
      const lo = Math.floor(order.length / 3);
      const sliced = task.slice(lo, order.length);
      assert.equal(sliced.length, order.length - lo);
      for (let i = lo; i < order.length; i++) assert.equal(sliced.offset(i - lo), order[i]!.offset);
    }));
  });

  it('writes nothing when a run does not fit the worker batch', () => {
    const batch = packConsumed([{ topic: 't', partition: 0, offset: 1, value: Buffer.from('abcdef') }, { topic: 't', partition: 0, offset: 2, value: Buffer.from('gh') }]);
    const buffer = new ArrayBuffer(packedSize(2, 7));
    const packer = new BatchPacker(buffer);
    packer.reset(buffer, 2);
    assert.equal(packer.appendRun(batch, 0, 2, 100), false);
    assert.equal(packer.length, 0);
    assert.equal(packer.appendRun(batch, 1, 2, 100), true);
    assert.equal(new PackedBatch(packer.finish()).offset(0), 2);
  });
});
