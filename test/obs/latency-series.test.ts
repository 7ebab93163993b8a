import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyHistogram } from '../../src/obs/latency-histogram.js';
import { LatencySeries } from '../../src/obs/latency-series.js';

describe('latency series', () => {
  it('keeps one histogram per wall-clock second and returns only completed ones after a second', () => {
    const s = new LatencySeries(4);
    s.at(10_000).record(100);
    s.at(10_999).record(200);
    s.at(11_500).record(300);
    s.at(12_100).record(400);
    const done = s.completed(0, 12_500);
    assert.deepEqual(done.map((d) => d.sec), [10, 11]);
    assert.equal(done[0]!.histogram.total, 2);
    assert.deepEqual(s.completed(10, 12_500).map((d) => d.sec), [11]);
    assert.deepEqual(s.completed(0, 13_000).map((d) => d.sec), [10, 11, 12]);
  });

  it('reuses a slot for a later second, dropping what it held', () => {
    const s = new LatencySeries(2);
    s.at(1_000).record(5);
    s.at(3_000).record(7);
    const done = s.completed(0, 4_000);
    assert.deepEqual(done.map((d) => d.sec), [3]);
    assert.equal(LatencyHistogram.decode(done[0]!.histogram).max, 7);
  });
});
