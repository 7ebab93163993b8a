import type { MarketEvent } from '../../src/codec/event.js';
import { CheckEngine } from '../../src/checks/engine.js';
import { ALL_CHECKS } from '../../src/checks/registry.js';
import type { IngestConfig } from '../../src/config/schema.js';
import type { IngestMetrics } from '../../src/ingest/metrics.js';
import type { testConfig } from './services.js';

/** The environment of a gateway with `feeds`, reconnecting quickly (tests drop connections). */
export function ingestEnv(feeds: Record<string, unknown>, extra: Record<string, string> = {}): Record<string, string> {
  return { HIMARI_INGEST_FEEDS: JSON.stringify(feeds), HIMARI_INGEST_RECONNECT_INITIAL_MS: '50', HIMARI_INGEST_RECONNECT_MAX_MS: '500', ...extra };
}

/** The ingest section, producing to the test's own input topic (which cleanup deletes). */
export function ingestOf(config: ReturnType<typeof testConfig>['config']): IngestConfig {
  return { ...config.ingest, topic: config.kafka.topics[0]! };
}

/** The sum of metric `name`'s values with `labels` (a histogram's `_count` by that name). */
export async function sample(metrics: IngestMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  // A histogram's _count is one of the values of the metric named without the suffix.
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name || `${m.name}_count` === name);
  return (metric?.values ?? []).filter((v) => ((v as { metricName?: string }).metricName ?? metric!.name) === name && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/**
 * Failures of the book checks (severity resync: sequence, snapshot, checksum), by check id, with
 * the sequence checks alone running: the replayed messages carry their 2021 exchange times and
 * the gateway stamps today's receive time, which the time checks rightly reject (a rejected
 * snapshot would leave its book unsynced).
 */
export function bookCheckFailures(events: readonly MarketEvent[]): Record<string, number> {
  const engine = new CheckEngine(ALL_CHECKS.filter((c) => c.group === 'sequence'));
  const book = ALL_CHECKS.filter((c) => c.severity === 'resync');
  const counts: Record<string, number> = {};
  for (const e of events) {
    const o = engine.evaluate(e, 0);
    for (const c of book) {
      if ((c.bit < 32 ? (o.failedLo >>> c.bit) & 1 : (o.failedHi >>> (c.bit - 32)) & 1) === 1) counts[c.id] = (counts[c.id] ?? 0) + 1;
    }
  }
  return counts;
}

/** `events` less every book snapshot after the first of its symbol: what a venue sent without the resyncs' new snapshots. */
export function withoutLaterSnapshots(events: readonly MarketEvent[]): MarketEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    if (e.type !== 'book' || e.action !== 'snapshot') return true;
    if (seen.has(e.symbol)) return false;
    seen.add(e.symbol);
    return true;
  });
}
