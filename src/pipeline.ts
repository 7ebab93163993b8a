import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Verdict } from './codec/event.js';
import { SharedReference, type SilenceAlert } from './checks/reference.js';
import { ReferenceRefusals } from './checks/reference-refusals.js';
import { checkById } from './checks/registry.js';
import { sinkPolicy, type Config } from './config/schema.js';
import { ErrorCode, HimariError, errorMessage } from './errors.js';
import type { Metrics } from './obs/metrics.js';
import { CheckWorkerPool } from './pool/worker-pool.js';
import { Dispatcher, type DispatchedTask } from './pool/dispatcher.js';
import type { CheckResult, CheckWorkerData } from './pool/task.js';
import { SinkCore, type SinkDriver } from './sinks/core.js';
import { EventSinkCore } from './sinks/event-sink-core.js';
import { ResultRouter } from './sinks/result-router.js';
import type { DeadLetter, DeadLetterDriver, PendingDeadLetter } from './sinks/dead-letter.js';
import { DeadLetterSink, messageDeadLetter } from './sinks/dead-letter-sink.js';
import type { ConsumedBatch } from './source/consumed-batch.js';
import type { KafkaClients } from './kafka/kafka-clients.js';
import type { Source, TopicPartition } from './source/source.js';
import { OffsetTracker, type CommitPoint } from './source/offset-tracker.js';
import { describePartitionKey } from './source/partition-key.js';

export const CHECK_WORKER_FILE = fileURLToPath(new URL('../workers/check-worker.js', import.meta.url));

export interface PipelineParts {
  config: Readonly<Config>;
  log: Logger;
  metrics: Metrics;
  /** Where the consumer comes from (and, with it, every other Kafka client). */
  kafka: KafkaClients;
  sinks: SinkDriver[];
  /** The dead-letter topic's driver, run under a sink core of its own (`sink="dead-letter"`). */
  deadLetters: DeadLetterDriver;
  workerFile?: string;
  /** Told about each stream the sweep finds silent (the timer half of T5). */
  onSilence?: (alert: SilenceAlert) => void;
}

/** Counts since start, for the run summary. */
export interface PipelineTotals {
  consumed: number;
  verdicts: number[];
  checkFailures: number[];
}

/**
 * The processor: Kafka source → packed batches → pinned check workers → sinks, with offsets
 * committed per partition up to the highest offset that every sink (and the dead-letter topic)
 * has confirmed.
 */
export class Pipeline {
  readonly source: Source;
  readonly pool: CheckWorkerPool<DispatchedTask>;
  /** The event sinks: Redis, PostgreSQL, the output topic. */
  readonly sinks: EventSinkCore[];
  /**
   * The dead-letter topic, a sink like the others (one retry loop, backpressure, metrics): what
   * the decoder, a dying worker or a sink refuses goes here, and its source offset waits for it.
   */
  readonly deadLetters: DeadLetterSink;
  /** Every sink core, the dead-letter topic's included: flushed, aborted and closed together. */
  private readonly cores: ReadonlyArray<EventSinkCore | SinkCore<PendingDeadLetter>>;
  /** Worker results to the sinks and the dead-letter topic (src/sinks/result-router.ts). */
  private readonly router: ResultRouter;
  readonly tracker = new OffsetTracker();
  readonly totals: PipelineTotals = { consumed: 0, verdicts: [0, 0, 0, 0], checkFailures: new Array<number>(64).fill(0) };
  /** Consumed messages to worker tasks: backlogs, slots, packing (src/pool/dispatcher.ts). */
  readonly dispatcher: Dispatcher;
  /** Last offset committed per partition (`topic[partition]` → offset), for reports. */
  readonly committed = new Map<string, number>();
  private commitTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** The cross-venue reference every worker maps; swept here for silences and breadth. */
  readonly reference: SharedReference;
  private readonly refusals: ReferenceRefusals;
  private readonly breadthMoveBp: number;
  /** C1's window (global threshold): the sweep's liquidation sums span it (C7). */
  private readonly liquidationWindowUs: number;
  private readonly onSilence: ((alert: SilenceAlert) => void) | undefined;
  private started = false;
  private closing: Promise<CloseOutcome> | null = null;
  /** `start` while it runs: a close waits for it (bounded) before closing what it opened. */
  private starting: Promise<void> | null = null;
  private readonly config: Readonly<Config>;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  /** Set at the close deadline (or a close during start): delivery gave up, nothing more to wait for. */
  private deliveryAborted = false;
  /** Every check worker has loaded its module (or failed to): the pool may be closed. */
  private readonly workersLoaded: Promise<void>;

  constructor(parts: PipelineParts) {
    this.config = parts.config;
    this.log = parts.log;
    this.metrics = parts.metrics;
    // A child logger per stage: every line says where it comes from ({"stage": "source"}, ...).
    this.reference = SharedReference.create(parts.config.checks.referenceInstruments, parts.config.checks.referenceVenues);
    this.refusals = new ReferenceRefusals(this.reference);
    this.breadthMoveBp = parts.config.checks.thresholds.C6?.moveBp ?? checkById('C6')!.thresholds.moveBp!.default;
    this.liquidationWindowUs = (parts.config.checks.thresholds.C1?.windowMs ?? checkById('C1')!.thresholds.windowMs!.default) * 1000;
    this.onSilence = parts.onSilence;
    this.pool = new CheckWorkerPool({
      filename: parts.workerFile ?? CHECK_WORKER_FILE,
      threads: parts.config.workers.threads,
      taskRetries: parts.config.workers.taskRetries,
      workerData: { checks: parts.config.checks, symbolIdleMs: parts.config.checks.symbolIdleMs, reference: this.reference.buffer } satisfies CheckWorkerData,
      log: parts.log.child({ stage: 'workers' }),
      metrics: parts.metrics,
    });
    this.dispatcher = new Dispatcher({
      pool: this.pool, tracker: this.tracker, metrics: parts.metrics,
      maxBatchMessages: parts.config.workers.maxBatchMessages, maxMessageBytes: parts.config.kafka.maxMessageBytes,
    });
    this.sinks = parts.sinks.map((driver) => new EventSinkCore(driver, {
      policy: sinkPolicy(parts.config.sink, driver.name),
      metrics: parts.metrics,
      log: parts.log.child({ stage: 'sink' }),
      // The refused event becomes a dead letter under the chunk's ticket: the chunk is settled
      // for this sink, and its offsets still wait for the dead letter.
      onPermanentFailure: (chunk, err) => {
        this.deadLetters.send(chunk.ticket, {
          code: ErrorCode.SINK_REJECTED,
          message: `${driver.name}: ${errorMessage(err)}`,
          sourceTopic: chunk.topic, sourcePartition: chunk.partition, sourceOffset: chunk.firstOffset,
          key: null, value: Buffer.from(chunk.source.value(chunk.from)),
        });
        return true;
      },
    }));
    this.deadLetters = new DeadLetterSink({
      driver: parts.deadLetters, scan: (req) => parts.kafka.scanDeadLetters(req), policy: sinkPolicy(parts.config.sink, parts.deadLetters.name),
      metrics: parts.metrics, log: parts.log.child({ stage: 'dead-letters' }),
      replayFrom: (topic, partition) => this.dispatcher.firstOf(topic, partition),
      onFailed: (dl, err) => this.onDeadLetterFailed(dl, err),
      onSaturated: () => this.pauseSource(),
    });
    this.cores = [...this.sinks, this.deadLetters.core];
    for (const s of this.cores) s.on('drain', () => this.maybeResume());
    this.router = new ResultRouter({
      sinks: this.sinks, metrics: parts.metrics, totals: this.totals, maxMessageBytes: parts.config.kafka.maxMessageBytes,
      deadLetter: (ticket, messages, index, code, message) => {
        const { batch, index: at } = messages.at(index);
        this.deadLetters.send(ticket, messageDeadLetter(batch, at, code, message));
      },
      recycle: (buffer) => this.dispatcher.recycle(buffer),
      afterRoute: () => { if (this.shouldPause()) this.pauseSource(); else this.maybeResume(); },
    });
    // The route of an event: source -> dispatcher -> pool (a worker) -> router -> sink cores.
    this.pool.connect(this.dispatcher, this.router);
    // Each thread loads its module at once (an empty task each, which pins it to its slot), and
    // the pool is closed only after that: Node 20 aborts the whole process (SIGABRT, "v8::Module::
    // IsGraphAsync must be used on an instantiated module") when a worker is stopped while
    // require() instantiates an ES module, which a start failing at once (a refused password)
    // risked: its exit status was a signal instead of 1, once in a CI run.
    this.workersLoaded = this.pool.warm(() => this.dispatcher.emptyBatch(), 0).then(() => {}, () => {});
    parts.metrics.workerThreads.set(this.pool.threads);
    parts.metrics.referenceSlots.set({ kind: 'instrument' }, this.reference.capacity);
    parts.metrics.referenceSlots.set({ kind: 'venue' }, this.reference.venues);
    // Present at 0 from the start, so an alert on it needs no absent() clause.
    parts.metrics.referenceRefused.inc({ kind: 'instrument' }, 0);
    parts.metrics.referenceRefused.inc({ kind: 'venue' }, 0);
    parts.metrics.onScrape(() => this.setScrapeGauges());
    this.source = parts.kafka.source(parts.log.child({ stage: 'source' }), {
      onMessages: (batch) => this.take(batch),
      onAssigned: () => {},
      onRevoked: (partitions) => this.drainPartitions(partitions),
      onCommitFailed: (points) => {
        for (const p of points) this.tracker.commitFailed(p.topic, p.partition, p.offset);
      },
      onCommitConfirmed: (points) => {
        for (const p of points) this.tracker.commitConfirmed(p.topic, p.partition, p.offset);
      },
    });
  }

  /** Connects everything, warms connections and threads, then starts consuming. */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.closing !== null) throw new HimariError(ErrorCode.CLOSED, 'stopped during start-up');
    await Promise.all([
      ...this.cores.map((s) => s.connect()),
      this.source.connect(),
      this.pool.warm(() => this.dispatcher.emptyBatch(), this.config.workers.warmupEvents),
    ]);
    if (this.closing !== null) throw new HimariError(ErrorCode.CLOSED, 'stopped during start-up');
    this.source.start();
    this.commitTimer = setInterval(() => this.commitConfirmed(), this.config.kafka.commitIntervalMs);
    this.sweepTimer = setInterval(() => this.sweepReference(), this.config.checks.sweepMs);
    this.sweepTimer.unref();
    this.started = true;
  }

  get ready(): boolean {
    return this.started && this.closing === null && this.cores.every((s) => s.healthy) && this.source.assigned.length > 0 && this.source.stopped.size === 0;
  }

  notReadyReasons(): string[] {
    const reasons: string[] = [];
    if (!this.started) reasons.push('starting');
    if (this.closing !== null) reasons.push('closing');
    for (const s of this.cores) if (!s.healthy) reasons.push(s.statusText);
    if (this.started && this.source.assigned.length === 0) reasons.push('kafka: no partitions assigned yet');
    for (const [key, why] of this.source.stopped) reasons.push(`kafka: partition ${describePartitionKey(key)} stopped: ${why}`);
    return reasons;
  }

  /**
   * Per assigned partition, the messages the sinks do not hold yet: the high watermark minus the
   * last commit (else where this assignment started). The high watermark is librdkafka's cached
   * one (updated by every fetch: no broker call). A partition without either is left out.
   */
  partitionLags(): Array<{ topic: string; partition: number; lag: number }> {
    const lags: Array<{ topic: string; partition: number; lag: number }> = [];
    for (const tp of this.source.assigned) {
      const high = this.source.highWatermark(tp.topic, tp.partition);
      const from = this.committed.get(`${tp.topic}[${tp.partition}]`) ?? this.dispatcher.firstOf(tp.topic, tp.partition)?.firstOffset;
      if (high !== undefined && from !== undefined) lags.push({ topic: tp.topic, partition: tp.partition, lag: Math.max(0, high - from) });
    }
    return lags;
  }

  /** The gauges a scrape reads from the current state (see `Metrics.onScrape`). */
  private setScrapeGauges(): void {
    const m = this.metrics;
    m.ready.set(this.ready ? 1 : 0);
    for (const s of this.cores) m.sinkOutage.set({ sink: s.name }, s.healthy ? 0 : 1);
    let tasks = 0;
    for (let slot = 0; slot < this.pool.threads; slot++) tasks += this.pool.backlog(slot);
    m.workerQueueDepth.set(tasks);
    m.consumerLag.reset();
    for (const p of this.partitionLags()) m.consumerLag.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
    const nowUs = Date.now() * 1000;
    for (const [venue, newestUs] of this.reference.newestByVenue()) m.newestEventAge.set({ venue }, Math.max(0, (nowUs - newestUs) / 1e6));
    m.referenceUsed.set({ kind: 'instrument' }, this.reference.instrumentsUsed());
    m.referenceUsed.set({ kind: 'venue' }, this.reference.venuesUsed());
  }

  /**
   * Streams gone silent are found here, by a timer, not when a message arrives (a silent
   * stream sends none); the breadth C6 reads is computed here for all instruments at once.
   */
  private sweepReference(): void {
    const alerts = this.reference.sweep(Date.now() * 1000, this.breadthMoveBp, 120_000_000, this.liquidationWindowUs);
    this.metrics.breadth.set({ direction: 'down' }, this.reference.breadthDown);
    this.metrics.breadth.set({ direction: 'up' }, this.reference.breadthUp);
    this.metrics.liquidated.set({ venue: 'all' }, this.reference.liquidatedMarket);
    for (const [venue, notional] of this.reference.liquidatedByVenue()) this.metrics.liquidated.set({ venue }, notional);
    const { added, warnings } = this.refusals.poll(Date.now());
    if (added.instrument > 0) this.metrics.referenceRefused.inc({ kind: 'instrument' }, added.instrument);
    if (added.venue > 0) this.metrics.referenceRefused.inc({ kind: 'venue' }, added.venue);
    for (const w of warnings) {
      this.log.warn({ kind: w.kind, refused: w.refused, first: w.first, slots: w.slots, configKey: w.configKey },
        `cross-venue reference full: all ${w.slots} ${w.kind} slots taken (${w.configKey}), so ${w.refused} streams (the first: ${w.first}) get no cross-venue or silence checks`);
    }
    for (const a of alerts) {
      this.metrics.silences.inc({ venue: a.venue });
      this.log.warn({ venue: a.venue, symbol: a.symbol, silentMs: a.silentMs, thresholdMs: a.thresholdMs }, 'stream silent (T5)');
      this.onSilence?.(a);
    }
  }

  /** One consume call's messages, to the workers; pauses the consumer when they or a sink are overloaded. */
  private take(batch: ConsumedBatch): void {
    this.totals.consumed += batch.count;
    if (this.dispatcher.dispatch(batch) || this.cores.some((sink) => sink.saturated)) this.pauseSource();
  }

  /**
   * A dead letter that could not be stored leaves its batch unacknowledged, so its partition's
   * commits stop there. Rather than a silent stall, the partition stops consuming and says why;
   * one abandoned at shutdown needs nothing.
   */
  private onDeadLetterFailed(dl: DeadLetter, err: unknown): void {
    if ((err as { code?: unknown }).code === ErrorCode.CLOSED) return;
    const why = `dead letter of offset ${dl.sourceOffset} could not be stored: ${errorMessage(err)}`;
    this.log.error({ err, topic: dl.sourceTopic, partition: dl.sourcePartition, offset: dl.sourceOffset }, 'partition stopped: its dead letter could not be stored; it stays uncommitted from there (a restart or rebalance tries again)');
    this.source.stopPartition(dl.sourceTopic, dl.sourcePartition, why);
    this.metrics.partitionsStopped.set(this.source.stopped.size);
  }

  /**
   * Backpressure: a sink's in-flight budget is used up, or more messages wait for workers than
   * a few full batches per thread. Pausing makes librdkafka drop its prefetched messages for the
   * paused partitions (they are fetched again on resume), so it is for real overload only.
   */
  private shouldPause(): boolean {
    return this.cores.some((s) => s.saturated) || this.dispatcher.overloaded;
  }

  private pauseSource(): void {
    if (this.source.paused) return;
    this.metrics.paused.set(1);
    this.source.pause();
    this.log.debug('backpressure: consumer paused');
  }

  private maybeResume(): void {
    if (!this.source.paused || this.closing !== null || this.shouldPause()) return;
    this.metrics.paused.set(0);
    this.source.resume();
  }

  private commitConfirmed(): void {
    // Worker results also free slot backlog; resuming is checked here as well as on sink drain.
    this.maybeResume();
    const points = this.tracker.takeCommits();
    if (points.length === 0) return;
    this.source.commit(points);
    this.metrics.commits.inc();
    this.noteCommitted(points);
  }

  private noteCommitted(points: readonly CommitPoint[]): void {
    for (const p of points) {
      this.committed.set(`${p.topic}[${p.partition}]`, p.offset);
      this.metrics.committedOffset.set({ topic: p.topic, partition: String(p.partition) }, p.offset);
    }
  }

  private async drainPartitions(partitions: TopicPartition[]): Promise<void> {
    // Every wait below is bounded, the sinks' flushes too: a sink in an outage (or the dead-letter
    // topic with its broker gone) retries for as long as it lasts, and a drain still waiting when
    // the source gives up on it (30 s) and the partitions come back would then forget the new
    // assignment's batches, whose offsets would never be committed (the full fault profile's
    // broker kill -9 did that once the dead-letter topic became a sink).
    const deadline = Date.now() + 25_000;
    const left = () => Math.max(0, deadline - Date.now());
    const busy = () => partitions.some((p) => this.tracker.partition(p.topic, p.partition).inFlight > 0);
    await withinMs(Promise.all(this.cores.map((s) => s.flush())), left());
    // An aborted close leaves batches unconfirmed for good: nothing to wait for.
    while (busy() && Date.now() < deadline && !this.deliveryAborted) {
      await withinMs(Promise.all(this.cores.map((s) => s.flush())), left());
      await new Promise((r) => setTimeout(r, 10));
    }
    this.commitConfirmed();
    for (const p of partitions) {
      this.tracker.forget(p.topic, p.partition);
      this.pool.release(p.topic, p.partition);
      this.deadLetters.forget(p.topic, p.partition);
      for (const s of this.sinks) s.release(p.topic, p.partition);
      this.dispatcher.forget(p.topic, p.partition);
    }
  }

  /**
   * Graceful stop: no new messages, every taken batch through the workers and sinks, final
   * commit, then disconnect. Idempotent. Every step is bounded so the whole keeps `deadlineMs`
   * in every state (a sink down or black-holed, the broker gone, a dead letter that cannot be
   * stored, a rebalance under way): the drain gets the deadline less `CLOSE_RESERVE_MS`, and past
   * it the sinks and the dead-letter producer are aborted, what is confirmed is committed, and
   * the rest is abandoned: its offsets were not committed, so the next start replays it (the
   * sinks skip what they already hold). Resolves `'drained'` or `'abandoned'`.
   */
  close(deadlineMs = 30_000): Promise<CloseOutcome> {
    this.closing ??= this.doClose(deadlineMs);
    return this.closing;
  }

  private async doClose(deadlineMs: number): Promise<CloseOutcome> {
    const endsAt = Date.now() + deadlineMs;
    const left = (reserve = 0) => Math.max(0, endsAt - reserve - Date.now());
    // A close during start: start's connects retry forever against a service that is down.
    if (!this.started) this.abortDelivery();
    await withinMs(this.starting ?? Promise.resolve(), left(CLOSE_RESERVE_MS));
    await withinMs(this.source.stop(), left(CLOSE_RESERVE_MS));
    const drained = (async () => {
      for (;;) {
        await Promise.all(this.cores.map((s) => s.flush()));
        // A stopped partition's batch waits for a dead letter that will not be stored: left for a replay.
        if (this.tracker.inFlight(this.source.stopped) === 0 || this.deliveryAborted) return;
        await Promise.race([this.tracker.whenIdle(), new Promise((r) => setTimeout(r, 20))]);
      }
    })();
    let outcome: CloseOutcome = await withinMs(drained, left(CLOSE_RESERVE_MS)) && this.tracker.inFlight() === 0 ? 'drained' : 'abandoned';
    if (outcome === 'abandoned') {
      this.log.warn({ inFlight: this.tracker.inFlight(), deadlineMs }, 'close deadline reached: unconfirmed batches abandoned (replayed on the next start)');
      this.abortDelivery();
    }
    if (this.commitTimer !== null) clearInterval(this.commitTimer);
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    // Only what the broker has not confirmed: re-sending a confirmed point during a rebalance
    // (a rolling restart) was refused with the old generation and made a clean stop exit 3.
    const points = this.tracker.unconfirmedCommits();
    // Whether the broker answers decides how the consumer and the dead-letter producer close: a
    // graceful close against one that does not would outlast the deadline (KafkaSource.disconnect).
    let brokerAnswers = points.length > 0 && await this.source.commitAndWait(points, Math.min(FINAL_COMMIT_MS, left(500)));
    if (brokerAnswers) this.noteCommitted(points);
    else if (points.length > 0) {
      this.log.error({ points: points.length }, 'final commit not confirmed in time; the tail will be replayed (sinks skip it)');
      outcome = 'abandoned';
    }
    // Nothing to commit, or a commit refused mid-rebalance by a broker that does answer: then
    // leaving still hands the partitions over at once.
    if (!brokerAnswers) brokerAnswers = await this.source.brokerAnswers(Math.min(BROKER_PROBE_MS, left(500)));
    // The dead-letter producer, like the consumer, must not block on a broker that does not answer.
    const dlClose = { deadlineMs: Math.max(0, left(1_000)), graceful: brokerAnswers };
    const dl = this.deadLetters.core;
    const closed = await withinMs(Promise.allSettled([
      this.source.disconnect(brokerAnswers), this.workersLoaded.then(() => this.pool.close()),
      dl.isAborted ? dl.closeNow(dlClose) : dl.close(dlClose),
      ...this.sinks.map((s) => (s.isAborted ? s.closeNow() : s.close())),
    ]), left());
    if (!closed) {
      this.log.warn('connections still closing at the deadline; leaving them');
      outcome = 'abandoned';
    }
    return outcome;
  }

  /** Stops every retry loop of delivery: sinks and dead letters. */
  private abortDelivery(): void {
    this.deliveryAborted = true;
    for (const s of this.cores) s.abort();
  }
}

/** How a close ended: everything taken was delivered and committed, or some was left for a replay. */
export type CloseOutcome = 'drained' | 'abandoned';

/** Of the close deadline, what is kept for the final commit and the disconnects. */
const CLOSE_RESERVE_MS = 5_000;
/** Longest wait for the final commit's answer (a broker that is gone never answers). */
const FINAL_COMMIT_MS = 3_000;
/** Longest wait for a metadata answer before the consumer's close (a broker on loopback answers in ~1 ms). */
const BROKER_PROBE_MS = 1_000;

/** Waits for `p` at most `ms`; true when it settled in time (its rejection counts as settled). */
async function withinMs(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

