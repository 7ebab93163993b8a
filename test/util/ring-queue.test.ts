import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RingQueue } from '../../src/util/ring-queue.js';

describe('RingQueue', () => {
  it('behaves as an array used as a queue, for any sequence of push, unshift and shift', () => {
    fc.assert(fc.property(fc.array(fc.oneof(
      fc.record({ op: fc.constant('push' as const), v: fc.integer() }),
      fc.record({ op: fc.constant('unshift' as const), v: fc.integer() }),
      fc.record({ op: fc.constant('shift' as const), v: fc.constant(0) }),
    ), { maxLength: 300 }), (ops) => {
      const ring = new RingQueue<number>(2);
      const model: number[] = [];
      for (const { op, v } of ops) {
        if (op === 'push') { ring.push(v); model.push(v); }
        else if (op === 'unshift') { ring.unshift(v); model.unshift(v); }
        else assert.equal(ring.shift(), model.shift());
        assert.equal(ring.length, model.length);
        assert.equal(ring.peek(), model[0]);
      }
    }));
  });

  it('keeps no reference to what left it', () => {
    const ring = new RingQueue<object>(4);
    ring.push({});
    ring.shift();
    assert.deepEqual((ring as unknown as { items: unknown[] }).items.filter((x) => x !== undefined), []);
  });
});
