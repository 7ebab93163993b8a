import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineChart, niceTicks } from '../../src/loadtest/report.js';

describe('report charts', () => {
  it('round ticks cover the range', () => {
    assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
    const t = niceTicks(0, 12_345);
    assert.ok(t[0] === 0 && t[t.length - 1]! >= 10_000);
  });

  it('draws one path per series with a legend, escapes names, and says so when empty', () => {
    const svg = lineChart({ title: 'a<b', xLabel: 's', yLabel: 'ms', logY: true, series: [{ name: 'p50', points: [[0, 1], [1, 10]] }, { name: 'p99', points: [[0, 5], [1, 50]] }] });
    assert.equal(svg.match(/<path /g)?.length, 2);
    assert.match(svg, /a&lt;b/);
    assert.match(svg, />p99</);
    assert.match(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }), /no data/);
  });

  it('a percentile plot puts percentiles on a log scale of 1/(1-p)', () => {
    const svg = lineChart({ title: 't', xLabel: 'percentile', yLabel: 'ms', logY: true, percentileX: true, series: [{ name: 'redis', points: [[0.5, 2], [0.99, 9], [0.999, 30]] }] });
    assert.match(svg, />99.9%</);
  });
});
