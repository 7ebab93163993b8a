import { samplesOf, sumBy, sumOf, type Scrape } from './prom-text.js';

/**
 * What `himari-l0 top` shows, computed from two scrapes of the processor's /metrics: counters as
 * rates over the interval between them, gauges as read in the newer one. Pure: the scrapes in,
 * numbers out (rendering is top-render.ts, scraping and the loop are in runTop's caller).
 */
export interface TopView {
  /** Seconds between the two scrapes; null on the first scrape (no rates yet). */
  intervalS: number | null;
  /** himari_ready: null when the processor does not export it. */
  ready: boolean | null;
  consumed: Rate;
  /** By verdict: accepted, flagged, rejected, dead_letter. */
  verdicts: Array<Rate & { verdict: string }>;
  lag: LagView | null;
  /** Per sink: events written, end-to-end latency quantiles, outage gauge. */
  sinks: SinkView[];
  /** The checks failing most, by rate then total (top N). */
  checkFailures: Array<Rate & { check: string }>;
  workers: { utilization: number | null; threads: number | null; queueDepth: number | null };
  deadLetters: Array<Rate & { code: string }>;
  /** Seconds since the newest event of each venue was received, oldest first. */
  freshness: Array<{ venue: string; ageS: number }>;
  paused: boolean | null;
  partitionsStopped: number | null;
}

/** A counter: its total in the newer scrape and its rate per second over the interval (null: first scrape). */
export interface Rate {
  total: number;
  perS: number | null;
}

export interface LagView {
  sum: number;
  partitions: number;
  worst: { topic: string; partition: string; lag: number } | null;
}

export interface SinkView {
  sink: string;
  written: Rate;
  /** End-to-end latency (send time -> the sink confirmed the write), ms. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Highest finite bucket bound, ms: a quantile of Infinity is above it. */
  topBoundMs: number | null;
  /** `interval`: from the buckets' growth between the scrapes; `total`: since the processor started (nothing new was written). */
  window: 'interval' | 'total' | null;
  outage: boolean | null;
}

export interface TopOptions {
  /** Checks listed (most failing first). */
  topChecks: number;
}

export function computeTopView(prev: Scrape | null, cur: Scrape, options: TopOptions = { topChecks: 5 }): TopView {
  const dtS = prev === null ? null : (cur.at - prev.at) / 1000;
  const intervalS = dtS !== null && dtS > 0 ? dtS : null;
  const rate = (name: string, match: Record<string, string> = {}): Rate => {
    const total = sumOf(cur, name, match) ?? 0;
    if (intervalS === null || prev === null) return { total, perS: null };
    return { total, perS: counterDelta(sumOf(prev, name, match), total) / intervalS };
  };
  const ratesBy = (name: string, label: string): Array<Rate & { key: string }> => {
    const now = sumBy(cur, name, label);
    const before = prev === null ? new Map<string, number>() : sumBy(prev, name, label);
    return [...now].map(([key, total]) => ({ key, total, perS: intervalS === null ? null : counterDelta(before.get(key), total) / intervalS }));
  };

  const busy = rate('himari_worker_busy_seconds_total');
  const threads = sumOf(cur, 'himari_worker_threads') ?? null;
  const ready = sumOf(cur, 'himari_ready');
  const paused = sumOf(cur, 'himari_consumer_paused');
  const stopped = sumOf(cur, 'himari_partitions_stopped');
  return {
    intervalS,
    ready: ready === undefined ? null : ready === 1,
    consumed: rate('himari_consumed_messages_total'),
    verdicts: ratesBy('himari_events_total', 'verdict').map(({ key, ...r }) => ({ verdict: key, ...r })),
    lag: lagView(cur),
    sinks: sinkViews(prev, cur, intervalS),
    checkFailures: ratesBy('himari_check_failures_total', 'check')
      .filter((r) => r.total > 0)
      .sort((a, b) => (b.perS ?? 0) - (a.perS ?? 0) || b.total - a.total)
      .slice(0, options.topChecks)
      .map(({ key, ...r }) => ({ check: key, ...r })),
    workers: {
      utilization: busy.perS === null || threads === null || threads <= 0 ? null : busy.perS / threads,
      threads,
      queueDepth: sumOf(cur, 'himari_worker_queue_depth') ?? null,
    },
    deadLetters: ratesBy('himari_dead_lettered_total', 'code').filter((r) => r.total > 0).map(({ key, ...r }) => ({ code: key, ...r })),
    freshness: samplesOf(cur, 'himari_newest_event_age_seconds')
      .map((s) => ({ venue: s.labels.venue ?? '', ageS: s.value }))
      .sort((a, b) => b.ageS - a.ageS),
    paused: paused === undefined ? null : paused > 0,
    partitionsStopped: stopped ?? null,
  };
}

/** A counter's growth; a counter that went down was reset (the processor restarted): all of it is new. */
export function counterDelta(before: number | undefined, now: number): number {
  if (before === undefined || now < before) return now;
  return now - before;
}

function lagView(cur: Scrape): LagView | null {
  const samples = samplesOf(cur, 'himari_consumer_lag_messages');
  if (samples.length === 0) return null;
  let sum = 0;
  let worst: LagView['worst'] = null;
  for (const s of samples) {
    sum += s.value;
    if (worst === null || s.value > worst.lag) worst = { topic: s.labels.topic ?? '', partition: s.labels.partition ?? '', lag: s.value };
  }
  return { sum, partitions: samples.length, worst };
}

function sinkViews(prev: Scrape | null, cur: Scrape, intervalS: number | null): SinkView[] {
  const names = new Set<string>([...sumBy(cur, 'himari_sink_written_events_total', 'sink').keys(), ...sumBy(cur, 'himari_end_to_end_seconds_count', 'sink').keys()]);
  const out: SinkView[] = [];
  for (const sink of [...names].sort()) {
    const total = sumOf(cur, 'himari_sink_written_events_total', { sink }) ?? 0;
    const before = prev === null ? undefined : sumOf(prev, 'himari_sink_written_events_total', { sink });
    const now = bucketsOf(cur, sink);
    let window: SinkView['window'] = null;
    let buckets = now;
    if (prev !== null) {
      const delta = bucketDelta(bucketsOf(prev, sink), now);
      if (delta !== null && (delta.at(-1)?.count ?? 0) > 0) {
        buckets = delta;
        window = 'interval';
      }
    }
    if (window === null && (now.at(-1)?.count ?? 0) > 0) window = 'total';
    const outage = sumOf(cur, 'himari_sink_outage', { sink });
    out.push({
      sink,
      written: { total, perS: intervalS === null ? null : counterDelta(before, total) / intervalS },
      p50Ms: toMs(histogramQuantile(0.5, buckets)),
      p99Ms: toMs(histogramQuantile(0.99, buckets)),
      topBoundMs: toMs(buckets.filter((b) => b.le !== Infinity).at(-1)?.le ?? null),
      window,
      outage: outage === undefined ? null : outage > 0,
    });
  }
  return out;
}

export interface Bucket {
  /** Upper bound (le), Infinity for the last. */
  le: number;
  /** Cumulative count of observations <= le. */
  count: number;
}

function bucketsOf(scrape: Scrape, sink: string): Bucket[] {
  return samplesOf(scrape, 'himari_end_to_end_seconds_bucket', { sink })
    .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
}

/**
 * The observations made between two scrapes, bucket by bucket. Null when the bucket layouts
 * differ or a count went down (the processor restarted): then only the newer totals mean anything.
 */
export function bucketDelta(before: readonly Bucket[], now: readonly Bucket[]): Bucket[] | null {
  if (before.length !== now.length) return before.length === 0 ? [...now] : null;
  const out: Bucket[] = [];
  for (let i = 0; i < now.length; i++) {
    if (before[i]!.le !== now[i]!.le || now[i]!.count < before[i]!.count) return null;
    out.push({ le: now[i]!.le, count: now[i]!.count - before[i]!.count });
  }
  return out;
}

/**
 * The q-quantile of cumulative buckets, as PromQL's histogram_quantile: linear within the bucket
 * the rank falls in, the lower bound of the first bucket taken as 0. A rank in the +Inf bucket
 * gives Infinity: above the highest finite bound is all that is known (PromQL returns that
 * bound, which would read as a measured value). Null without observations.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number | null {
  const total = buckets.at(-1)?.count ?? 0;
  if (buckets.length === 0 || total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    if (b.count < rank) continue;
    const lower = i === 0 ? 0 : buckets[i - 1]!.le;
    if (b.le === Infinity) return Infinity;
    const below = i === 0 ? 0 : buckets[i - 1]!.count;
    const inBucket = b.count - below;
    return inBucket <= 0 ? b.le : lower + ((b.le - lower) * (rank - below)) / inBucket;
  }
  return buckets.at(-1)!.le;
}

function toMs(s: number | null): number | null {
  return s === null ? null : s * 1000;
}
