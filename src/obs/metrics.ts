import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One label value's buckets of an `EventHistogram`: plain counters, filled per event. */
export class EventBuckets {
  /** Per bound (not cumulative); the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram for values observed once per event (end-to-end latency per sink).
 * prom-client's `observe` builds a label object and hashes it on every call (~200 ns, measured);
 * here the caller holds its label's counters and an observation is a bound search and three
 * additions. prom-client renders it on a scrape like any other metric.
 */
export class EventHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly series = new Map<string, EventBuckets>();

  constructor(readonly name: string, readonly help: string, readonly labelName: string, bounds: number[], registry: Registry) {
    this.bounds = Float64Array.from(bounds);
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The counters of one label value (created on first use; hold on to them). */
  labels(value: string): EventBuckets {
    let b = this.series.get(value);
    if (b === undefined) this.series.set(value, (b = new EventBuckets(this.bounds)));
    return b;
  }

  /** What prom-client renders: cumulative buckets, +Inf, sum and count per label value. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const [label, b] of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += b.counts[i]!;
        values.push({ labels: { le: i < this.bounds.length ? this.bounds[i]! : '+Inf', [this.labelName]: label }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { [this.labelName]: label }, value: b.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: b.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

/**
 * Every metric the processor exports, registered once. Hot paths count in locals and add here
 * once per batch (a prom-client call costs ~100 ns; per event it would be a measurable share).
 */
export class Metrics {
  readonly registry = new Registry();

  readonly consumed = new Counter({ name: 'himari_consumed_messages_total', help: 'Messages taken from Kafka.', labelNames: ['topic'] as const, registers: [this.registry] });
  readonly verdicts = new Counter({ name: 'himari_events_total', help: 'Events by check verdict (accepted, flagged, rejected, dead_letter).', labelNames: ['verdict'] as const, registers: [this.registry] });
  readonly checkFailures = new Counter({ name: 'himari_check_failures_total', help: 'Events failing each check, by check id (A1, T5, ...).', labelNames: ['check'] as const, registers: [this.registry] });
  readonly written = new Counter({ name: 'himari_sink_written_events_total', help: 'Events a sink confirmed as written (sink="dead-letter": dead letters the broker acknowledged).', labelNames: ['sink'] as const, registers: [this.registry] });
  readonly deadLettered = new Counter({ name: 'himari_dead_lettered_total', help: 'Messages sent to the dead-letter topic, by error code.', labelNames: ['code'] as const, registers: [this.registry] });
  readonly deadLetterReplays = new Counter({ name: 'himari_dead_letter_replays_skipped_total', help: 'Dead letters not sent again because an earlier run (before a crash) already sent them.', registers: [this.registry] });
  readonly flushes = new Counter({ name: 'himari_sink_flushes_total', help: 'Sink batch flushes by reason (rows, bytes, time, close).', labelNames: ['sink', 'reason'] as const, registers: [this.registry] });
  readonly flushRows = new Histogram({ name: 'himari_sink_flush_rows', help: 'Events per sink flush.', labelNames: ['sink'] as const, buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000], registers: [this.registry] });
  readonly writeSeconds = new Histogram({ name: 'himari_sink_write_seconds', help: 'Duration of one sink batch write, retries included.', labelNames: ['sink'] as const, buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: [this.registry] });
  readonly sinkConnections = new Gauge({ name: 'himari_sink_connections', help: 'Connections (lanes) a sink writes over concurrently.', labelNames: ['sink'] as const, registers: [this.registry] });
  readonly retries = new Counter({ name: 'himari_sink_retries_total', help: 'Sink write retries after a retriable error.', labelNames: ['sink'] as const, registers: [this.registry] });
  readonly sinkErrors = new Counter({ name: 'himari_sink_errors_total', help: 'Sink write errors.', labelNames: ['sink', 'retriable'] as const, registers: [this.registry] });
  readonly endToEnd = new EventHistogram('himari_end_to_end_seconds', 'Send time (the x-intended-ns header when present, else the Kafka message timestamp) to the sink confirming the write.', 'sink', [0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], this.registry);
  readonly workerSeconds = new Histogram({ name: 'himari_worker_task_seconds', help: 'Round trip of one worker task (queue, checks, transfer back).', buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], registers: [this.registry] });
  readonly workerBatchSize = new Histogram({ name: 'himari_worker_batch_messages', help: 'Messages per worker task.', buckets: [1, 10, 50, 100, 250, 500, 1000, 5000], registers: [this.registry] });
  readonly workerRestarts = new Counter({ name: 'himari_worker_task_failures_total', help: 'Worker tasks that failed (worker crash) and were retried.', registers: [this.registry] });
  readonly workerBusy = new Counter({ name: 'himari_worker_busy_seconds_total', help: 'Time the worker threads spent running check tasks, summed over threads (utilization: rate / himari_worker_threads).', registers: [this.registry] });
  readonly workerThreads = new Gauge({ name: 'himari_worker_threads', help: 'Worker threads in the check pool.', registers: [this.registry] });
  readonly workerQueueDepth = new Gauge({ name: 'himari_worker_queue_depth', help: 'Check tasks queued or running, all worker slots.', registers: [this.registry] });
  readonly consumerLag = new Gauge({ name: 'himari_consumer_lag_messages', help: 'Per assigned partition: high watermark minus committed offset (messages not yet durably in the sinks).', labelNames: ['topic', 'partition'] as const, registers: [this.registry] });
  readonly newestEventAge = new Gauge({ name: 'himari_newest_event_age_seconds', help: 'Per venue: now minus the exchange time of its newest priced event (freshness; the venues the cross-venue reference holds, checks.referenceVenues).', labelNames: ['venue'] as const, registers: [this.registry] });
  readonly referenceUsed = new Gauge({ name: 'himari_reference_slots_used', help: 'Slots of the shared cross-venue reference taken, by kind (instrument, venue); its capacity is himari_reference_slots.', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly referenceSlots = new Gauge({ name: 'himari_reference_slots', help: 'Slots of the shared cross-venue reference, by kind (checks.referenceInstruments, checks.referenceVenues).', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly referenceRefused = new Counter({ name: 'himari_reference_refused_total', help: 'Streams refused a slot of the cross-venue reference because every slot of the kind (instrument, venue) was taken: they get no cross-venue (X1-X4) or silence (T5) checks. Raise checks.referenceInstruments / checks.referenceVenues.', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly sinkOutage = new Gauge({ name: 'himari_sink_outage', help: '1 while the sink is in an outage (writes failing and retried), else 0.', labelNames: ['sink'] as const, registers: [this.registry] });
  readonly ready = new Gauge({ name: 'himari_ready', help: '1 when /readyz answers ready, else 0.', registers: [this.registry] });
  readonly silences = new Counter({ name: 'himari_stream_silences_total', help: 'Streams found silent by the timer (T5), by venue.', labelNames: ['venue'] as const, registers: [this.registry] });
  readonly policyLastSuccess = new Gauge({ name: 'himari_timescaledb_policy_last_success_timestamp_seconds', help: 'When a run of each TimescaleDB policy last succeeded (background or the processor\'s foreground run); 0 never.', labelNames: ['policy'] as const, registers: [this.registry] });
  readonly policyBackgroundFailures = new Gauge({ name: 'himari_timescaledb_policy_background_failures', help: 'Failed background runs of each TimescaleDB policy (timescaledb_information.job_stats).', labelNames: ['policy'] as const, registers: [this.registry] });
  readonly policyForegroundRuns = new Counter({ name: 'himari_timescaledb_policy_foreground_runs_total', help: 'Runs of each TimescaleDB policy by the processor (CALL run_job) while the background runs fail, by result.', labelNames: ['policy', 'result'] as const, registers: [this.registry] });
  readonly liquidated = new Gauge({ name: 'himari_liquidated_notional', help: 'Notional liquidated over C1\'s window (C7), by venue (venue="all": every venue; the venues the cross-venue reference holds).', labelNames: ['venue'] as const, registers: [this.registry] });
  readonly breadth = new Gauge({ name: 'himari_market_breadth_ratio', help: 'Share of instruments in a fast move (C6), by direction.', labelNames: ['direction'] as const, registers: [this.registry] });
  readonly commits = new Counter({ name: 'himari_offset_commits_total', help: 'Offset commits sent to Kafka.', registers: [this.registry] });
  readonly committedOffset = new Gauge({ name: 'himari_committed_offset', help: 'Last committed offset per partition.', labelNames: ['topic', 'partition'] as const, registers: [this.registry] });
  readonly partitionsStopped = new Gauge({ name: 'himari_partitions_stopped', help: 'Partitions that stopped consuming because a dead letter of theirs could not be stored (see the log and /readyz).', registers: [this.registry] });
  readonly loopDelayMax = new Histogram({
    name: 'himari_event_loop_delay_max_seconds',
    help: 'Each second\'s longest event-loop delay, by thread: kafka (the main thread, the Kafka clients), pipeline (dispatch, results, sinks, these metrics); main when the pipeline runs on the main thread (workers.pipelineThread false). The count over 20 ms is the seconds with a stall.',
    labelNames: ['thread'] as const, buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly paused = new Gauge({ name: 'himari_consumer_paused', help: '1 while the consumer is paused by sink backpressure.', registers: [this.registry] });

  /** Gauges read from the processor's state when scraped, not kept current on hot paths. */
  private readonly scrapeHooks: Array<() => void> = [];

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Unprefixed (process_cpu_seconds_total, nodejs_eventloop_lag_p99_seconds, ...): the names
    // stock Node.js dashboards and alerts look for.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Runs `hook` before each scrape renders (set gauges there). */
  onScrape(hook: () => void): void {
    this.scrapeHooks.push(hook);
  }

  /** The exposition text, scrape hooks run first. */
  async render(): Promise<string> {
    for (const hook of this.scrapeHooks) hook();
    return this.registry.metrics();
  }
}

/**
 * The reference table of docs/metrics.md: every metric of the processor with its type, labels
 * and help (Node.js's default process metrics apart; they keep their stock names).
 */
export function metricsMarkdownTable(registry: Registry = new Metrics({ defaultMetrics: false }).registry): string {
  const rows = registry.getMetricsAsArray().map((metric) => {
    const { name, help, type, labelNames, labelName } = metric as unknown as { name: string; help: string; type: string; labelNames?: string[]; labelName?: string };
    const labels = (labelNames ?? (labelName === undefined ? [] : [labelName])).map((l) => `\`${l}\``).join(', ');
    return `| \`${name}\` | ${type} | ${labels} | ${help.replaceAll('|', '\\|')} |`;
  });
  return ['| metric | type | labels | description |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}

export interface HealthSource {
  /** Live: the process runs its loop. */
  live(): boolean;
  /** Ready: connected, assigned, and no sink in an outage. Returns the reasons it is not. */
  notReadyReasons(): string[];
}

/** What `/debug/latency?after=SEC` answers: per sink, latencies since start and per second. */
export type LatencyReporter = (afterSec: number) => unknown;

/**
 * Serves /metrics, /healthz and /readyz, and `/debug/latency?after=SEC` (JSON: each sink's
 * send-to-confirmed-write histogram since start and one per completed wall-clock second after
 * SEC; see `LatencySeries`) for the load test.
 */
/** What the endpoint serves: a registry, rendered by its owner (scrape hooks first). */
export interface MetricsSource {
  readonly registry: Registry;
  render(): Promise<string>;
}

export function startMetricsServer(metrics: MetricsSource, health: HealthSource, host: string, port: number, latency?: LatencyReporter): Promise<Server> {
  const server = createServer((req, res) => {
    if (latency !== undefined && req.url !== undefined && req.url.startsWith('/debug/latency')) {
      const after = Number(new URL(req.url, 'http://x').searchParams.get('after') ?? '0');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(latency(Number.isFinite(after) ? after : 0)));
    } else if (req.url === '/metrics') {
      metrics.render().then(
        (body) => { res.writeHead(200, { 'content-type': metrics.registry.contentType }); res.end(body); },
        (err: Error) => { res.writeHead(500); res.end(err.message); },
      );
    } else if (req.url === '/healthz') {
      const ok = health.live();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'not live\n');
    } else if (req.url === '/readyz') {
      const reasons = health.notReadyReasons();
      res.writeHead(reasons.length === 0 ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(reasons.length === 0 ? 'ready\n' : reasons.join('\n') + '\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
