import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Histogram, Registry } from 'prom-client';
import { EventHistogram, Metrics, metricsMarkdownTable } from '../../src/obs/metrics.js';

describe('per-event histogram', () => {
  it('renders exactly what a prom-client Histogram renders for the same observations', async () => {
    const bounds = [0.001, 0.002, 0.005, 0.01, 0.1];
    const ours = new Registry();
    const theirs = new Registry();
    const mine = new EventHistogram('lat_seconds', 'Latency.', 'sink', bounds, ours);
    const reference = new Histogram({ name: 'lat_seconds', help: 'Latency.', labelNames: ['sink'] as const, buckets: bounds, registers: [theirs] });
    const values = [0, 0.0005, 0.001, 0.0010001, 0.002, 0.0049, 0.01, 0.05, 0.1, 0.2, 7];
    for (const [sink, factor] of [['redis', 1], ['postgres', 2]] as const) {
      const b = mine.labels(sink);
      for (const v of values) {
        b.observe(v * factor);
        reference.observe({ sink }, v * factor);
      }
    }
    const lines = async (r: Registry) => (await r.metrics()).split('\n').filter((l) => l.length > 0).sort();
    assert.deepEqual(await lines(ours), await lines(theirs));
  });

  it('is what the processor exports as himari_end_to_end_seconds', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.endToEnd.labels('redis').observe(0.004);
    const text = await m.registry.metrics();
    assert.match(text, /^# TYPE himari_end_to_end_seconds histogram$/m);
    assert.match(text, /^himari_end_to_end_seconds_bucket\{le="0\.003",sink="redis"\} 0$/m);
    assert.match(text, /^himari_end_to_end_seconds_bucket\{le="0\.005",sink="redis"\} 1$/m);
    assert.match(text, /^himari_end_to_end_seconds_count\{sink="redis"\} 1$/m);
  });
});

describe('docs/metrics.md', () => {
  it('lists every metric the processor registers, as generated (scripts/gen-docs.sh)', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/metrics.md', import.meta.url)), 'utf8');
    const table = metricsMarkdownTable();
    assert.ok(doc.endsWith(table), 'docs/metrics.md is stale: run npm run build && bash scripts/gen-docs.sh');
    for (const metric of new Metrics({ defaultMetrics: false }).registry.getMetricsAsArray()) assert.ok(table.includes(`| \`${metric.name}\` |`));
  });
});
