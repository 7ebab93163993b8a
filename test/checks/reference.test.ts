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

  it('is bounded: instruments beyond its capacity are counted, not stored, and the first refused is kept', () => {
    const ref = SharedReference.create(16);
    assert.equal(ref.firstRefusedInstrument, '');
    for (let i = 0; i < 20; i++) ref.instrument(`S${i}-USDT`);
    assert.equal(ref.refusedInstruments, 4);
    assert.equal(ref.instrumentsUsed(), 16);
    assert.match(ref.firstRefusedInstrument, /^S(1[6-9])-USDT$/);
    assert.equal(ref.instrument('S0-USDT') >= 0, true, 'known instruments still resolve');
  });

  it('holds the venues it was made for: one more is refused, counted and named; the others keep their medians', () => {
    const ref = SharedReference.create(16, 3);
    assert.equal(ref.venues, 3);
    const btc = ref.instrument('BTC-USDT');
    const publish = (venue: string, price: number) => {
      const e = ref.entry(btc, venue, 'BTC-USDT');
      ref.publish({ refEntry: e, refPrice: price, eventTs: 1000, silenceUs: 0, moveBp: NaN, liqWindowNotional: 0, liqLastTs: 0 }, 5);
      return e;
    };
    publish('binance', 100);
    publish('okx', 102);
    const kraken = publish('kraken', 104);
    assert.equal(publish('deribit', 90), -1, 'a fourth venue gets no entry');
    assert.equal(publish('bitmex', 80), -1);
    assert.equal(ref.refusedVenues, 2);
    assert.equal(ref.firstRefusedVenue, 'deribit');
    assert.equal(ref.venuesUsed(), 3);
    assert.equal(ref.refusedInstruments, 0);
    assert.deepEqual({ ...ref.median(btc, kraken, { eventTs: 1000 }, 1) }, { median: 101, venues: 2 }, 'the refused venues are not in it');
    // Another thread maps the same table with the same venue slots.
    assert.equal(new SharedReference(ref.buffer).venues, 3);
    // The default: 8 venue slots.
    assert.equal(SharedReference.create(16).venues, 8);
  });
});
