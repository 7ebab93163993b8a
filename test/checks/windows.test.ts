import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

describe('sorted window and number ring (rolling median and MAD)', () => {
  it('agrees with sorting, through wrap-around and duplicates', async () => {
    const { SortedWindow, NumberRing } = await import('../../src/checks/windows.js');
    const sortedMedian = (xs: number[]) => {
      const a = [...xs].sort((x, y) => x - y);
      const n = a.length;
      return n % 2 === 1 ? a[(n - 1) >> 1]! : (a[n / 2 - 1]! + a[n / 2]!) / 2;
    };
    let seed = 7;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (const capacity of [1, 2, 5, 50]) {
      const w = new SortedWindow(capacity);
      const ring = new NumberRing(capacity);
      const scratch = new Float64Array(capacity);
      const window: number[] = [];
      for (let i = 0; i < 500; i++) {
        const v = Math.round(rand() * 20) / 4; // many duplicates
        w.push(v);
        ring.push(v);
        window.push(v);
        if (window.length > capacity) window.shift();
        const median = sortedMedian(window);
        w.computeMedian();
        assert.equal(w.median, median);
        ring.computeMedian(scratch);
        assert.equal(ring.median, median);
        w.computeMad();
        assert.equal(w.mad, sortedMedian(window.map((x) => Math.abs(x - median))), `capacity ${capacity}, step ${i}`);
        assert.equal(w.median, median);
      }
    }
  });
});

describe('recent numbers (trade ids without allocation)', () => {
  it('agrees with a Set over a sliding window, with collisions and large ids', async () => {
    const { RecentNumbers } = await import('../../src/checks/windows.js');
    let seed = 11;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (const capacity of [1, 3, 64]) {
      const recent = new RecentNumbers(capacity);
      const order: number[] = [];
      for (let i = 0; i < 5000; i++) {
        // Small ranges force repeats and probe collisions; some ids beyond 2^32.
        const id = rand() < 0.5 ? Math.floor(rand() * capacity * 3) : 2 ** 40 + Math.floor(rand() * capacity * 3);
        const expected = !order.includes(id);
        assert.equal(recent.addFrom({ tradeIdNum: id }), expected, `capacity ${capacity}, step ${i}, id ${id}`);
        if (expected) { order.push(id); if (order.length > capacity) order.shift(); }
      }
    }
  });
});

describe('recent strings (non-numeric trade ids without allocation)', () => {
  it('agrees with a Set over a sliding window, with collisions and the empty id', async () => {
    const { RecentStrings } = await import('../../src/checks/windows.js');
    let seed = 13;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (const capacity of [1, 3, 64]) {
      const recent = new RecentStrings(capacity);
      const order: string[] = [];
      for (let i = 0; i < 5000; i++) {
        // Few distinct ids force repeats and probe collisions.
        const n = Math.floor(rand() * capacity * 3);
        const id = n === 0 ? '' : `${n.toString(16)}-${'x'.repeat(n % 5)}`;
        const expected = !order.includes(id);
        assert.equal(recent.add(id), expected, `capacity ${capacity}, step ${i}, id '${id}'`);
        if (expected) { order.push(id); if (order.length > capacity) order.shift(); }
      }
    }
  });
});
