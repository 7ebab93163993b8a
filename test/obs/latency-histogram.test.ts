import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyHistogram } from '../../src/obs/latency-histogram.js';

describe('latency histogram', () => {
  it('reports quantiles within 1.6 % over six decades', () => {
    const h = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 1; i <= 100_000; i++) values.push(Math.round(10 ** (1 + (i % 6000) / 1000)));
    for (const v of values) h.record(v);
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = values[Math.ceil(q * values.length) - 1]!;
      const got = h.quantile(q);
      assert.ok(Math.abs(got - exact) / exact <= 0.016, `q${q}: ${got} vs ${exact}`);
    }
    assert.equal(h.max, values[values.length - 1]);
    assert.equal(h.total, values.length);
  });

  it('puts values on both sides of every power of two (the integer and the large-value paths) in order, within 1.6 %', () => {
    let previous = -1;
    for (let k = 7; k <= 33; k++) {
      for (const v of [2 ** k - 1, 2 ** k, 2 ** k + 1, 3 * 2 ** (k - 1)]) {
        const h = new LatencyHistogram();
        h.record(v);
        const got = h.quantile(1);
        assert.ok(got >= v && (got - v) / v <= 0.016, `${v} reported as ${got}`);
        assert.ok(got >= previous, `${v}: buckets out of order`);
        previous = got;
      }
    }
  });

  it('is exact for small values and merges', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) (i % 2 ? a : b).record(i);
    a.merge(b);
    assert.equal(a.quantile(0.5), 50);
    assert.equal(a.quantile(1), 100);
    assert.equal(a.summary().count, 100);
  });
});

describe('latency histogram encoding', () => {
  it('decodes what it encodes, and merged decoded intervals equal one histogram of everything', () => {
    const whole = new LatencyHistogram();
    const parts = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
    for (let i = 0; i < 30_000; i++) {
      const v = 50 + ((i * 7919) % 200_000);
      whole.record(v);
      parts[i % 3]!.record(v);
    }
    const merged = new LatencyHistogram();
    for (const p of parts) merged.merge(LatencyHistogram.decode(JSON.parse(JSON.stringify(p.encode()))));
    assert.deepEqual(merged.summary(), whole.summary());
    assert.equal(merged.min, whole.min);
  });

  it('an empty histogram round-trips; another layout or a wrong total is refused', () => {
    const e = new LatencyHistogram().encode();
    assert.equal(LatencyHistogram.decode(e).summary().count, 0);
    assert.throws(() => LatencyHistogram.decode({ ...e, layout: 'hdr' }), /layout/);
    assert.throws(() => LatencyHistogram.decode({ ...e, total: 3 }), /total/);
    assert.throws(() => LatencyHistogram.decode({ ...e, buckets: [1] }), /pairs/);
  });
});
