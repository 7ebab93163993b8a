import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { IngestMetrics } from '../../src/ingest/metrics.js';
import { metricsMarkdownTable } from '../../src/obs/metrics.js';

describe('docs/ingest.md', () => {
  it('lists every metric the ingest gateway registers, as generated (scripts/gen-docs.sh)', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/ingest.md', import.meta.url)), 'utf8');
    const registry = new IngestMetrics({ defaultMetrics: false }).registry;
    const table = metricsMarkdownTable(registry);
    assert.ok(doc.endsWith(table), 'docs/ingest.md is stale: run npm run build && bash scripts/gen-docs.sh');
    for (const metric of registry.getMetricsAsArray()) assert.ok(table.includes(`| \`${metric.name}\` |`));
  });
});
