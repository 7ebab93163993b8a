import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatNs, median, quantile } from '../../bench/stats.js';

describe('benchmark stats', () => {
  it('quantile takes the nearest rank of sorted values', () => {
    const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.equal(quantile(v, 0.5), 5);
    assert.equal(quantile(v, 0.99), 10);
    assert.equal(quantile(v, 0), 1);
    assert.equal(quantile([7], 0.99), 7);
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });

  it('median sorts a copy and averages the middle pair of an even count', () => {
    const v = [3, 1, 2];
    assert.equal(median(v), 2);
    assert.deepEqual(v, [3, 1, 2]);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('formats durations in ns, µs and ms', () => {
    assert.equal(formatNs(656.4), '656 ns');
    assert.equal(formatNs(39_580), '39.58 µs');
    assert.equal(formatNs(5_534_000), '5.53 ms');
    assert.equal(formatNs(NaN), 'n/a');
  });
});
