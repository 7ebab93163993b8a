import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { instrumentKey, instrumentKind, SharedReference, spotKeyOf } from '../../src/checks/reference.js';

const REFERENCE_MODULE = new URL('../../src/checks/reference.js', import.meta.url).href;

describe('shared cross-venue reference', () => {
  it('keys instruments: spot by symbol, perpetuals by pair, dated futures apart', () => {
    assert.equal(instrumentKind('binance', 'BTC-USDT'), 'spot');
    assert.equal(instrumentKind('binance-futures', 'BTC-USDT'), 'perp');
    assert.equal(instrumentKind('okx', 'UNI-USD-SWAP'), 'perp');
    assert.equal(instrumentKind('okx', 'BTC-USD-220527'), 'dated');
    assert.equal(instrumentKey('okx', 'BTC-USDT-SWAP'), instrumentKey('binance-futures', 'BTC-USDT'));
    assert.notEqual(instrumentKey('binance', 'BTC-USDT'), instrumentKey('binance-futures', 'BTC-USDT'));
    assert.equal(spotKeyOf('bybit', 'BTC-USD'), 'BTC-USD');
    assert.equal(spotKeyOf('binance', 'BTC-USDT'), '');
  });

  it('a price published by another thread is in this thread\'s median', async () => {
    const ref = SharedReference.create(64);
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.module).then(({ SharedReference }) => {
        const ref = new SharedReference(workerData.buffer);
        for (const [venue, price] of [['binance', 100], ['okx', 102], ['kraken', 101]]) {
          const e = ref.entry(ref.instrument('BTC-USDT'), venue, 'BTC-USDT');
          ref.publish({ refEntry: e, refPrice: price, eventTs: 1000, silenceUs: 0, moveBp: NaN, liqWindowNotional: 0, liqLastTs: 0 }, 5);
        }
        parentPort.postMessage('done');
      });`;
    const worker = new Worker(code, { eval: true, workerData: { module: REFERENCE_MODULE, buffer: ref.buffer } });
    await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
    await worker.terminate();
    const instrument = ref.instrument('BTC-USDT');
    const self = ref.entry(instrument, 'coinbase', 'BTC-USDT');
    assert.deepEqual({ ...ref.median(instrument, self, { eventTs: 1500 }, 1) }, { median: 101, venues: 3 });
    assert.equal(ref.median(instrument, self, { eventTs: 5000 }, 1).venues, 0, 'stale');
    assert.equal(ref.knownVenues(instrument), 3);
  });

  it('the sweep reports a silent stream once per silence, by venue and symbol', () => {
    const ref = SharedReference.create(16);
    const e = ref.entry(ref.instrument('ETH-USDT'), 'okx', 'ETH-USDT');
    ref.publish({ refEntry: e, refPrice: 2000, eventTs: 1, silenceUs: 500_000, moveBp: NaN, liqWindowNotional: 0, liqLastTs: 0 }, 1_000_000);
    assert.deepEqual(ref.sweep(1_400_000, 100, 1e9), []);
    assert.deepEqual(ref.sweep(1_600_000, 100, 1e9).map((a) => ({ ...a })), [{ venue: 'okx', symbol: 'ETH-USDT', silentMs: 600, thresholdMs: 500 }]);
    assert.deepEqual(ref.sweep(1_700_000, 100, 1e9), [], 'once');
    ref.publish({ refEntry: e, refPrice: 2000, eventTs: 2, silenceUs: 500_000, moveBp: NaN, liqWindowNotional: 0, liqLastTs: 0 }, 1_800_000);
    assert.deepEqual(ref.sweep(1_900_000, 100, 1e9), []);
    assert.equal(ref.sweep(2_400_000, 100, 1e9).length, 1, 'a new silence');
  });

  it('is bounded: instruments beyond its capacity are counted, not stored', () => {
    const ref = SharedReference.create(16);
    for (let i = 0; i < 20; i++) ref.instrument(`S${i}-USDT`);
    assert.equal(ref.full, 4);
    assert.equal(ref.instrument('S0-USDT') >= 0, true, 'known instruments still resolve');
  });
});

describe('sorted window and number ring (rolling median and MAD)', () => {
  it('agrees with sorting, through wrap-around and duplicates', async () => {
    const { SortedWindow, NumberRing } = await import('../../src/checks/state.js');
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
    const { RecentNumbers } = await import('../../src/checks/state.js');
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
    const { RecentStrings } = await import('../../src/checks/state.js');
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
