import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { connectPostgres, describeTarget } from './db/client-config.js';
import { migrate, type MigrationReport } from './db/migrate.js';
import { maintainPartitions } from './db/partitions.js';
import { TimescaleJobKeeper } from './db/timescale-jobs.js';
import { checkProcessorAccess } from './db/roles.js';
import { ErrorCode, HimariError } from './errors.js';
import { wallClockMs } from './obs/clock.js';
import { DISPATCH_STAGE, type LatencyReport } from './obs/latency-report.js';
import { Metrics, startMetricsServer } from './obs/metrics.js';
import { Pipeline, type CloseOutcome } from './pipeline.js';
import type { Processor, ProcessorStatus, RunSummary } from './processor.js';
import { reachDependencies } from './reach.js';
import { openLocalKafkaClients, type KafkaClients } from './kafka/kafka-clients.js';
import { DeadLetterDriver } from './sinks/dead-letter.js';
import { PostgresSink } from './sinks/postgres-sink.js';
import { RedisSink } from './sinks/redis-sink.js';
import { KafkaOutputSink } from './sinks/kafka-output-sink.js';
import type { SinkDriver } from './sinks/core.js';
import { LoopDelayMonitor } from './obs/loop-delay.js';

const PARTITION_MAINTENANCE_MS = 3_600_000;
export interface AppOptions {
  workerFile?: string;
  metrics?: Metrics;
  /** The Kafka clients (default: on this thread); `PortKafkaClients` for a pipeline off the main thread. */
  kafka?: KafkaClients;
  /** The OS thread id of the thread the pipeline runs in when that is not the main thread (`/debug/latency`). */
  pipelineThreadId?: number;
}

/**
 * Builds the processor from a validated config. Holds no process state: signals, exit codes and
 * output belong to the CLI.
 */
export class App implements Processor {
  readonly metrics: Metrics;
  readonly pipeline: Pipeline;
  /** Null when `sink.stores` leaves the store out (a consumer group per store). */
  readonly redis: RedisSink | null;
  readonly postgres: PostgresSink | null;
  migration: MigrationReport | null = null;
  startupMs = 0;
  private server: Server | null = null;
  private maintenance: NodeJS.Timeout | null = null;
  private policyTimer: NodeJS.Timeout | null = null;
  private loopDelay: LoopDelayMonitor | null = null;
  private policyKeeper: TimescaleJobKeeper | null = null;
  /** A look at the policies is under way (a run_job may outlast the interval). */
  private policiesBusy = false;

  /** Builds the processor on `options.kafka`, else on Kafka clients of this thread (node-rdkafka loads now). */
  static async create(config: Readonly<Config>, log: Logger, options: AppOptions = {}): Promise<App> {
    return new App(config, log, options.kafka ?? await openLocalKafkaClients(config.kafka, log), options);
  }

  private readonly pipelineThreadId: number;

  private constructor(readonly config: Readonly<Config>, readonly log: Logger, readonly kafka: KafkaClients, options: AppOptions) {
    this.pipelineThreadId = options.pipelineThreadId ?? 0;
    this.metrics = options.metrics ?? new Metrics();
    const stores = new Set(config.sink.stores);
    this.redis = stores.has('redis') ? new RedisSink(config.redis) : null;
    this.postgres = stores.has('postgres') ? new PostgresSink(config.postgres) : null;
    const sinks: SinkDriver[] = [];
    if (this.postgres !== null) sinks.push(this.postgres);
    if (this.redis !== null) sinks.push(this.redis);
    if (config.kafka.outputTopic !== undefined) sinks.push(new KafkaOutputSink(config.kafka, kafka.sinkProducer('output', log.child({ stage: 'sink' }))));
    const deadLetterLog = log.child({ stage: 'dead-letters' });
    this.pipeline = new Pipeline({
      config, log, metrics: this.metrics, kafka,
      sinks,
      deadLetters: new DeadLetterDriver(config.kafka, deadLetterLog, kafka.sinkProducer('dlq', deadLetterLog)),
      // Without Redis a silence is only logged and counted (the pipeline does both).
      onSilence: (a) => {
        this.redis?.publishSilence(a.venue, a.symbol, a.silentMs, a.thresholdMs)
          .catch((err: Error) => log.warn({ err }, 'could not publish a silence to the cascade stream'));
      },
      ...(options.workerFile === undefined ? {} : { workerFile: options.workerFile }),
    });
  }

  async start(): Promise<void> {
    const started = performance.now();
    // Every dependency answers before anything is created: a broker that is down must not leave
    // new tables or partitions behind a failed start.
    await reachDependencies(this.config, this.kafka, this.log);
    const topics = [...this.config.kafka.topics, this.config.kafka.deadLetterTopic,
      ...(this.config.kafka.outputTopic === undefined ? [] : [this.config.kafka.outputTopic])];
    // Topics the processor does not create are checked before the schema is touched.
    if (!this.config.kafka.createTopics) await this.kafka.requireTopics(topics);
    await Promise.all([
      this.config.kafka.createTopics ? this.kafka.ensureTopics(topics) : undefined,
      this.postgres === null ? undefined
        : (this.config.postgres.migrateOnStart ? this.migrate() : this.checkSchema()).then((r) => { this.migration = r; }),
    ]);
    if (this.config.metrics.port !== 0) {
      this.server = await startMetricsServer(this.metrics, {
        live: () => true,
        notReadyReasons: () => this.pipeline.notReadyReasons(),
      }, this.config.metrics.host, this.config.metrics.port, (afterSec) => this.latencyReport(afterSec));
    }
    await this.pipeline.start();
    const thread = this.pipelineThreadId !== 0 ? 'pipeline' : 'main';
    this.loopDelay = new LoopDelayMonitor((maxSeconds) => this.metrics.loopDelayMax.observe({ thread }, maxSeconds));
    this.startupMs = performance.now() - started;
    if (this.migration?.mode === 'partitioned') {
      this.maintenance = setInterval(() => void this.maintainPartitions(), PARTITION_MAINTENANCE_MS);
      this.maintenance.unref();
    }
    if (this.migration?.mode === 'timescaledb' && this.config.postgres.migrateOnStart) {
      const m = this.metrics;
      this.policyKeeper = new TimescaleJobKeeper(this.config.postgres, this.log.child({ stage: 'timescaledb' }), {
        lastSuccess: (policy, seconds) => m.policyLastSuccess.set({ policy }, seconds),
        backgroundFailures: (policy, total) => m.policyBackgroundFailures.set({ policy }, total),
        foregroundRun: (policy, ok) => m.policyForegroundRuns.inc({ policy, result: ok ? 'ok' : 'failed' }),
      });
      void this.keepPolicies();
      this.policyTimer = setInterval(() => void this.keepPolicies(), this.config.postgres.policyCheckMs);
      this.policyTimer.unref();
    }
  }

  /** One look at the TimescaleDB policies (TimescaleJobKeeper); a failure is logged and tried again at the next. */
  private async keepPolicies(): Promise<void> {
    if (this.policyKeeper === null || this.policiesBusy) return;
    this.policiesBusy = true;
    let client: Awaited<ReturnType<typeof connectPostgres>> | null = null;
    try {
      client = await connectPostgres(this.config.postgres);
      await this.policyKeeper.tick(client);
    } catch (err) {
      this.log.warn({ err }, 'reading the TimescaleDB policies failed; tried again at the next check');
    } finally {
      await client?.end().catch(() => {});
      this.policiesBusy = false;
    }
  }

  get storageMode(): string | undefined {
    return this.migration?.mode;
  }

  status(now = Date.now()): ProcessorStatus {
    const p = this.pipeline;
    return {
      notReadyReasons: p.notReadyReasons(),
      assigned: p.source.assigned.length,
      consumed: p.totals.consumed,
      lags: p.partitionLags(),
      sinks: p.sinks.map((s) => ({ name: s.name, outageMs: s.outageMs(now), statusText: s.statusText })),
      stalled: null,
    };
  }

  summary(): RunSummary {
    const p = this.pipeline;
    return {
      consumed: p.totals.consumed, verdicts: [...p.totals.verdicts], checkFailures: [...p.totals.checkFailures],
      sinks: p.sinks.map((s) => ({ name: s.name, latency: s.latency.summary() })),
      committed: [...p.committed],
    };
  }

  /** The `/debug/latency` answer: see `LatencySeries` and `startMetricsServer`. */
  latencyReport(afterSec: number): LatencyReport {
    const nowMs = wallClockMs();
    return {
      nowMs,
      consumed: this.pipeline.totals.consumed,
      pid: process.pid,
      workerThreadIds: this.pipeline.pool.osThreadIds(),
      pipelineThreadId: this.pipelineThreadId,
      sinks: [
        ...this.pipeline.sinks.map((s) => ({ name: s.name, total: s.latency.encode(), seconds: s.latencySeries.completed(afterSec, nowMs) })),
        { name: DISPATCH_STAGE, total: this.pipeline.dispatcher.latency.encode(), seconds: this.pipeline.dispatcher.latencySeries.completed(afterSec, nowMs) },
      ],
    };
  }

  private async migrate(): Promise<MigrationReport> {
    try {
      return await migrate(this.config.postgres, this.log);
    } catch (err) {
      // Migrating needs the owner's rights; a processor given a least-privilege role but left
      // migrating on start should be told what to change, not only "permission denied".
      if ((err as { code?: unknown }).code !== '42501') throw err;
      throw new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `${describeTarget(this.config.postgres)}: migrate on start needs the schema owner's rights (${(err as Error).message}); `
        + 'for a least-privilege role set postgres.migrateOnStart=false and run \'himari-l0 migrate --grant-to ROLE\' as the owner', { retriable: false, cause: err });
    }
  }

  /**
   * Without migrate on start (a least-privilege role): the schema must be there and writable by
   * this role, and the partitions due are made now, as migrate would have, through the owner's
   * maintenance function.
   */
  private async checkSchema(): Promise<MigrationReport> {
    const client = await connectPostgres(this.config.postgres);
    try {
      const report = await checkProcessorAccess(client, this.config.postgres);
      if (report.mode === 'partitioned') Object.assign(report, await maintainPartitions(client, this.config.postgres));
      this.log.info(report, 'schema checked');
      return report;
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async maintainPartitions(): Promise<void> {
    let client: Awaited<ReturnType<typeof connectPostgres>> | null = null;
    try {
      client = await connectPostgres(this.config.postgres);
      const r = await maintainPartitions(client, this.config.postgres);
      if (r.created.length + r.dropped.length + r.purgedFromDefault > 0) this.log.info(r, 'partitions maintained');
    } catch (err) {
      this.log.warn({ err }, 'partition maintenance failed; retried in an hour');
    } finally {
      await client?.end().catch(() => {});
    }
  }

  /** Stops within `deadlineMs` (`shutdown.deadlineMs` by default): see `Pipeline.close`. */
  async close(deadlineMs = this.config.shutdown.deadlineMs): Promise<CloseOutcome> {
    this.loopDelay?.stop();
    if (this.maintenance !== null) clearInterval(this.maintenance);
    if (this.policyTimer !== null) clearInterval(this.policyTimer);
    const outcome = await this.pipeline.close(deadlineMs);
    // Its clients are closed by now (or left at the deadline).
    await this.kafka.close();
    // Keep-alive connections (a scraper) would hold server.close() open past the deadline.
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
    return outcome;
  }
}
