import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/obs/metrics.js';
import { parsePromText, samplesOf, sumBy, sumOf } from '../../src/ops/prom-text.js';

describe('Prometheus text parser', () => {
  it('reads names, labels with escapes, special values, timestamps and TYPE lines', () => {
    const text = [
      '# HELP a_total A counter.',
      '# TYPE a_total counter',
      'a_total{path="/x\\"y\\\\z",note="line\\nbreak"} 3 1700000000000',
      'a_total{path="",note="b"} 4',
      '# TYPE b gauge',
      'b NaN',
      'c_bucket{le="+Inf"} +Inf',
      'd -Inf',
      'e{trailing="comma",} 1e3',
      'not a sample line {',
      '',
    ].join('\n');
    const s = parsePromText(text, 5);
    assert.equal(s.at, 5);
    assert.deepEqual(s.types, new Map([['a_total', 'counter'], ['b', 'gauge']]));
    assert.deepEqual(samplesOf(s, 'a_total'), [
      { labels: { path: '/x"y\\z', note: 'line\nbreak' }, value: 3 },
      { labels: { path: '', note: 'b' }, value: 4 },
    ]);
    assert.ok(Number.isNaN(sumOf(s, 'b')!));
    assert.equal(sumOf(s, 'c_bucket', { le: '+Inf' }), Infinity);
    assert.equal(sumOf(s, 'd'), -Infinity);
    assert.equal(sumOf(s, 'e', { trailing: 'comma' }), 1000);
    assert.equal(sumOf(s, 'missing'), undefined);
    assert.equal(sumOf(s, 'a_total', { note: 'b' }), 4);
  });

  it('reads what the processor exports as prom-client holds it', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.consumed.inc({ topic: 'market.events' }, 1234);
    m.consumed.inc({ topic: 'other' }, 6);
    m.verdicts.inc({ verdict: 'accepted' }, 1000);
    m.verdicts.inc({ verdict: 'flagged' }, 240);
    m.checkFailures.inc({ check: 'A1' }, 7);
    m.consumerLag.set({ topic: 'market.events', partition: '3' }, 42);
    const e2e = m.endToEnd.labels('redis');
    for (const v of [0.0009, 0.004, 0.004, 3]) e2e.observe(v);
    const s = parsePromText(await m.registry.metrics(), 0);
    assert.equal(sumOf(s, 'himari_consumed_messages_total'), 1240);
    assert.deepEqual(sumBy(s, 'himari_events_total', 'verdict'), new Map([['accepted', 1000], ['flagged', 240]]));
    assert.equal(sumOf(s, 'himari_check_failures_total', { check: 'A1' }), 7);
    assert.equal(sumOf(s, 'himari_consumer_lag_messages', { partition: '3' }), 42);
    assert.equal(sumOf(s, 'himari_end_to_end_seconds_bucket', { sink: 'redis', le: '0.005' }), 3);
    assert.equal(sumOf(s, 'himari_end_to_end_seconds_bucket', { sink: 'redis', le: '+Inf' }), 4);
    assert.equal(sumOf(s, 'himari_end_to_end_seconds_count', { sink: 'redis' }), 4);
    assert.equal(s.types.get('himari_end_to_end_seconds'), 'histogram');
    // Every sample prom-client holds comes back with its value.
    for (const metric of await m.registry.getMetricsAsJSON()) {
      for (const v of metric.values) {
        const name = (v as { metricName?: string }).metricName ?? metric.name;
        const labels = Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)]));
        const found = samplesOf(s, name, labels).filter((x) => Object.keys(x.labels).length === Object.keys(labels).length);
        assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}`);
        assert.equal(found[0]!.value, v.value, `${name} ${JSON.stringify(labels)}`);
      }
    }
  });

  it('takes every sample line of a full exposition, Node.js default metrics included', async () => {
    const text = await new Metrics().registry.metrics();
    const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const s = parsePromText(text, 0);
    assert.equal([...s.samples.values()].reduce((n, list) => n + list.length, 0), lines.length);
    assert.ok((sumOf(s, 'process_resident_memory_bytes') ?? 0) > 0);
  });
});
