import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import { kafkaClientConfig } from '../kafka/client-config.js';
import { connectClient } from '../kafka/clients.js';
import { RepeatLimit } from '../obs/repeat-limit.js';
import { packConsumed, type ConsumedBatch } from './consumed-batch.js';
import type { CommitPoint } from './offset-tracker.js';
import { partitionKey, type PartitionKey } from './partition-key.js';
import type { Source, SourceHandlers } from './source.js';

export type { SourceHandlers } from './source.js';

const REVOKE_DEADLINE_MS = 30_000;
/**
 * Backpressure first just stops calling consume(): librdkafka keeps its prefetched messages
 * (bounded by queued.max.messages.kbytes) and hands them over on the next call. Pausing the
 * partitions in librdkafka throws that prefetch away (refetched on resume, measured: draining
 * fell from ~160k to ~5k msg/s when every short stall paused), so it is kept for stalls longer
 * than this, i.e. sink outages, where it also lets us keep polling (max.poll.interval.ms).
 */
const HARD_PAUSE_AFTER_MS = 5_000;
const POLL_WHILE_PAUSED_MS = 1_000;

/**
 * node-rdkafka consumer with delivery-driven offsets: auto commit is off and offsets are
 * committed explicitly, only up to what every sink confirmed (`commit`). The loop calls
 * `consume(n)` back to back; it never has two calls in flight (disconnecting during one crashes
 * node-rdkafka, #1057), and `close` waits for the last one to return.
 */
export class KafkaSource implements Source {
  readonly consumer: Kafka.KafkaConsumer;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private pausedFor = false;
  private pausedSince = 0;
  private hardPaused = false;
  private lastPoll = 0;
  private resumeWaiter: (() => void) | null = null;
  private assignment: Kafka.TopicPartition[] = [];
  private lastError = '';
  private commitFailures = 0;
  /** `disconnect` began: commits after the final one are not sent. */
  private leaving = false;
  /** The topic index of the consumed batches (`packConsumed`). */
  private readonly topicNames: string[];
  /** Consumer errors logged once per message every 10 s, with how many were held back. */
  private readonly errorLogLimit = new RepeatLimit(10_000);
  /** Partitions stopped for good (`stopPartition`), `topic\0partition` → why; kept paused until revoked. */
  readonly stopped = new Map<PartitionKey, string>();

  constructor(private readonly config: KafkaConfig, private readonly log: Logger, private readonly handlers: SourceHandlers) {
    this.topicNames = [...config.topics];
    this.consumer = new Kafka.KafkaConsumer({
      ...kafkaClientConfig(config),
      'group.id': config.groupId,
      // Offsets move only when the sinks hold the data: we commit explicitly (see commit()).
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      // Cooperative rebalancing: a joining instance does not stop every partition.
      'partition.assignment.strategy': 'cooperative-sticky',
      rebalance_cb: (err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]) => this.onRebalance(err, assignment as Kafka.TopicPartition[]),
      offset_commit_cb: (err: Kafka.LibrdKafkaError | null | undefined, points: Kafka.TopicPartitionOffset[] | undefined) => this.onCommitted(err, points ?? []),
      'fetch.wait.max.ms': config.fetchWaitMaxMs,
      'fetch.min.bytes': config.fetchMinBytes,
      // Prefetch bound (memory during a sink outage); with a low bound, also lower the backoff
      // librdkafka waits after the queue is full, or fetching stalls ~1 s.
      'queued.max.messages.kbytes': config.queuedMaxMessagesKbytes,
      'fetch.queue.backoff.ms': 5,
      'session.timeout.ms': config.sessionTimeoutMs,
      'heartbeat.interval.ms': config.heartbeatIntervalMs,
      'socket.nagle.disable': true,
      'socket.keepalive.enable': true,
    }, {
      'auto.offset.reset': 'earliest',
    });
    this.consumer.on('event.error', (err) => {
      this.lastError = err.message;
      // By message, numbers aside (node-rdkafka gives these errors code -1; some messages carry timings).
      const held = this.errorLogLimit.admit(err.message.replace(/\d+/g, '#'), Date.now());
      if (held >= 0) this.log.warn({ err, ...(held > 0 ? { heldBack: held } : {}) }, 'kafka consumer error');
    });
  }

  get assigned(): readonly Kafka.TopicPartition[] {
    return this.assignment;
  }

  /**
   * The partition's high watermark as librdkafka last saw it (each fetch response updates it; no
   * broker call), or undefined before the first fetch.
   */
  highWatermark(topic: string, partition: number): number | undefined {
    try {
      const w = this.consumer.getWatermarkOffsets(topic, partition);
      return w.highOffset >= 0 ? w.highOffset : undefined;
    } catch {
      return undefined;
    }
  }

  get status(): string {
    return this.lastError;
  }

  async connect(): Promise<void> {
    await connectClient(this.consumer, this.config);
  }

  start(): void {
    this.consumer.subscribe([...this.config.topics]);
    this.running = true;
    this.loopDone = this.loop();
  }

  private consumeOnce(n: number, timeoutMs: number): Promise<Kafka.Message[]> {
    this.consumer.setDefaultConsumeTimeout(timeoutMs);
    return new Promise((resolve) => {
      this.consumer.consume(n, (err, msgs) => {
        if (err) {
          this.lastError = err.message;
          this.log.warn({ err }, 'consume failed');
        }
        resolve(msgs ?? []);
      });
    });
  }

  private async loop(): Promise<void> {
    const n = this.config.consumeBatchSize;
    let idle = true;
    while (this.running) {
      if (this.pausedFor) {
        await new Promise<void>((resolve) => {
          this.resumeWaiter = resolve;
          // Wake periodically even without a drain, so a stop request is noticed.
          setTimeout(resolve, 100);
        });
        this.resumeWaiter = null;
        if (!this.pausedFor || !this.running) continue;
        const now = Date.now();
        // Without partitions there is nothing to take, but librdkafka must still be polled: it
        // hands over a new assignment only inside a consume call. A consumer whose partitions
        // were revoked while it was paused (the broker restarting under load) otherwise never
        // got new ones.
        if (!this.hardPaused && (now - this.pausedSince >= HARD_PAUSE_AFTER_MS || this.assignment.length === 0)) {
          if (this.assignment.length > 0) {
            this.consumer.pause(this.assignment);
            this.log.warn({ pausedMs: now - this.pausedSince }, 'sinks still busy: partitions paused');
          }
          this.hardPaused = true;
        }
        if (this.hardPaused && now - this.lastPoll >= POLL_WHILE_PAUSED_MS) {
          // Paused partitions return nothing; the call keeps the group membership alive.
          this.lastPoll = now;
          const msgs = await this.consumeOnce(1, 0);
          if (msgs.length > 0) this.handlers.onMessages(packConsumed(msgs, this.topicNames));
        }
        continue;
      }
      // consume(n) waits up to the timeout for *each* message, so under a steady trickle a
      // blocking call fills slowly (10k msg/s: ~100 ms for 1000). Instead: take what is queued
      // without waiting; only when the last take left the queue empty, block for the first
      // message of the next fetch, and hand it on together with the rest of that fetch (one
      // batch per wake-up, not a batch of one and then the rest).
      let messages: Kafka.Message[];
      if (idle) {
        messages = await this.consumeOnce(1, this.config.consumeTimeoutMs);
        if (messages.length > 0 && n > 1 && this.running && !this.pausedFor) {
          const rest = await this.consumeOnce(n - 1, 0);
          if (rest.length > 0) messages = messages.concat(rest);
        }
      } else {
        messages = await this.consumeOnce(n, 0);
      }
      // A take that did not fill the batch emptied librdkafka's queue: the next call would come
      // back empty, so block instead.
      idle = messages.length < n;
      if (messages.length > 0) this.handlers.onMessages(packConsumed(messages, this.topicNames));
    }
  }

  /** Backpressure from the sinks or workers: stop taking messages until `resume`. */
  pause(): void {
    if (this.pausedFor) return;
    this.pausedFor = true;
    this.pausedSince = Date.now();
  }

  /**
   * Stops consuming one partition until it is revoked (its next owner tries again): a message of
   * it cannot be delivered anywhere, and committing past it would lose it.
   */
  stopPartition(topic: string, partition: number, why: string): void {
    this.stopped.set(partitionKey(topic, partition), why);
    try {
      this.consumer.pause([{ topic, partition }]);
    } catch (err) {
      this.log.warn({ err, topic, partition }, 'pausing a stopped partition failed');
    }
  }

  resume(): void {
    if (!this.pausedFor) return;
    this.pausedFor = false;
    if (this.hardPaused) {
      this.hardPaused = false;
      const resumable = this.assignment.filter((p) => !this.stopped.has(partitionKey(p.topic, p.partition)));
      if (resumable.length > 0) this.consumer.resume(resumable);
      this.log.info({ pausedMs: Date.now() - this.pausedSince }, 'partitions resumed');
    }
    this.resumeWaiter?.();
  }

  get paused(): boolean {
    return this.pausedFor;
  }

  /**
   * The commit's outcome. A refused point goes back to the pipeline to be committed again: the
   * commit that a rebalance refuses is often the last one an idle partition will ever make, and
   * without a retry the group shows a false lag and a failover replays the tail.
   */
  private onCommitted(err: Kafka.LibrdKafkaError | null | undefined, points: Kafka.TopicPartitionOffset[]): void {
    const failed: CommitPoint[] = [];
    const confirmed: CommitPoint[] = [];
    for (const p of points) {
      const point = { topic: p.topic, partition: p.partition, offset: p.offset };
      if (err || (p as { error?: unknown }).error) failed.push(point);
      else confirmed.push(point);
    }
    if (confirmed.length > 0) this.handlers.onCommitConfirmed(confirmed);
    if (!err && failed.length === 0) {
      this.commitFailures = 0;
      return;
    }
    // One line for the first failure of a run and every 50th: a rebalance may refuse several in a row.
    if (this.commitFailures++ % 50 === 0) {
      this.log.warn({ err: err ?? undefined, failures: this.commitFailures, partitions: failed.map((p) => `${p.topic}[${p.partition}]@${p.offset}`) },
        'offset commit refused; committing again');
    }
    this.handlers.onCommitFailed(failed);
  }

  /** Commits confirmed offsets (async; a refused commit comes back through `onCommitFailed`). */
  commit(points: readonly CommitPoint[]): void {
    // Leaving: the final commit (commitAndWait, before `disconnect`) holds what the sinks
    // confirmed; the revoke that leaving the group brings commits the same points again, into a
    // consumer that is closing (it threw "KafkaConsumer is disconnected", a warning on every stop).
    if (points.length === 0 || !this.consumer.isConnected() || this.leaving) return;
    try {
      this.consumer.commit(points.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset })));
    } catch (err) {
      // Disconnecting (a rebalance during close): the next owner replays from the last commit.
      this.log.warn({ err }, 'offset commit not sent');
    }
  }


  /**
   * The final commit: commits and resolves true once the broker confirmed every point, false when
   * it refused one, the consumer is not connected, or `timeoutMs` passed (a broker that is gone
   * never answers). Call it after `stop`: librdkafka hands over the commit's answer only inside a
   * consume call, so this polls with the partitions paused (nothing is consumed) until it has it.
   */
  async commitAndWait(points: readonly CommitPoint[], timeoutMs: number): Promise<boolean> {
    if (points.length === 0) return true;
    if (!this.consumer.isConnected()) return false;
    const wanted = new Set(points.map((p) => `${partitionKey(p.topic, p.partition)}@${p.offset}`));
    let outcome: boolean | null = null;
    const onCommit = (err: Kafka.LibrdKafkaError | undefined, offsets: Kafka.TopicPartitionOffset[] | undefined) => {
      const ours = (offsets ?? []).filter((o) => wanted.has(`${partitionKey(o.topic, o.partition)}@${o.offset}`));
      if (ours.length > 0) outcome = !err && !ours.some((o) => (o as { error?: unknown }).error);
    };
    this.consumer.on('offset.commit', onCommit);
    const until = Date.now() + timeoutMs;
    try {
      if (this.assignment.length > 0) this.consumer.pause(this.assignment);
      this.consumer.commit(points.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset })));
      while (outcome === null && Date.now() < until) await this.consumeOnce(1, Math.min(100, Math.max(1, until - Date.now())));
    } catch (err) {
      this.log.warn({ err }, 'final commit not sent');
      return false;
    } finally {
      this.consumer.off('offset.commit', onCommit);
    }
    return outcome === true;
  }

  /**
   * librdkafka calls this on its own schedule, also while the consumer disconnects (a close
   * during a rebalance): nothing thrown here may reach node-rdkafka, which would end the process.
   */
  private onRebalance(err: Kafka.LibrdKafkaError, partitions: Kafka.TopicPartition[]): void {
    try {
      if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) this.assign(partitions);
      else if (err.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) this.revoke(partitions);
      else this.log.error({ err }, 'rebalance error');
    } catch (thrown) {
      this.log.warn({ err: thrown, partitions: partitions.map((p) => `${p.topic}[${p.partition}]`) }, 'rebalance step failed (consumer closing?)');
    }
  }

  private assign(partitions: Kafka.TopicPartition[]): void {
    this.consumer.incrementalAssign(partitions);
    this.assignment = [...this.assignment, ...partitions.map((p) => ({ topic: p.topic, partition: p.partition }))];
    if (this.hardPaused) this.consumer.pause(partitions);
    this.log.info({ partitions: partitions.map((p) => `${p.topic}[${p.partition}]`) }, 'partitions assigned');
    this.handlers.onAssigned(partitions);
  }

  private revoke(partitions: Kafka.TopicPartition[]): void {
    const revoked = new Set(partitions.map((p) => partitionKey(p.topic, p.partition)));
    this.assignment = this.assignment.filter((p) => !revoked.has(partitionKey(p.topic, p.partition)));
    for (const key of revoked) this.stopped.delete(key);
    this.log.info({ partitions: partitions.map((p) => `${p.topic}[${p.partition}]`) }, 'partitions revoked; draining them');
    let timer: NodeJS.Timeout | undefined;
    let drainedInTime = false;
    const startedAt = Date.now();
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, REVOKE_DEADLINE_MS); });
    const drained = this.handlers.onRevoked(partitions).then(() => { drainedInTime = true; })
      .catch((e: unknown) => this.log.error({ err: e }, 'draining revoked partitions failed'));
    void Promise.race([drained, deadline]).finally(() => {
      clearTimeout(timer);
      // Said either way: librdkafka rejoins the group only after this unassign (cooperative
      // protocol), so a consumer left without partitions shows here why.
      const names = partitions.map((p) => `${p.topic}[${p.partition}]`);
      try {
        if (this.consumer.isConnected()) {
          this.consumer.incrementalUnassign(partitions);
          this.log.info({ partitions: names, drained: drainedInTime, waitedMs: Date.now() - startedAt }, 'revoked partitions unassigned');
        } else {
          this.log.warn({ partitions: names }, 'revoked partitions not unassigned: the consumer is not connected');
        }
      } catch (e) {
        this.log.warn({ err: e, partitions: names }, 'unassign after revoke failed (consumer closing?)');
      }
    });
  }

  /** Stops the loop and waits for the in-flight consume call to return. */
  async stop(): Promise<void> {
    this.running = false;
    this.resumeWaiter?.();
    await this.loopDone;
  }

  /**
   * True when the broker answers a metadata request within `timeoutMs` (bounded: librdkafka
   * gives up at the timeout).
   */
  brokerAnswers(timeoutMs: number): Promise<boolean> {
    if (!this.consumer.isConnected()) return Promise.resolve(false);
    return new Promise((resolve) => {
      try {
        this.consumer.getMetadata({ topic: this.config.topics[0], timeout: timeoutMs }, (err) => resolve(!err));
      } catch {
        resolve(false);
      }
    });
  }

  /**
   * Leaves the group and closes the consumer. With `leaveGroup` false it only stops consuming:
   * librdkafka's close waits for the group coordinator (a LeaveGroup, then up to
   * `socket.timeout.ms`) in a libuv pool thread, and a process exits only once that thread
   * returns, so against a broker that does not answer a close would hold the exit past any
   * deadline. The group then moves the partitions after the session timeout, as after a crash.
   */
  async disconnect(leaveGroup = true): Promise<void> {
    await this.stop();
    if (!this.consumer.isConnected()) return;
    this.leaving = true;
    if (!leaveGroup) {
      this.log.warn('the broker does not answer: not leaving the group (its partitions move after the session timeout)');
      return;
    }
    await new Promise<void>((resolve) => {
      try {
        this.consumer.disconnect(() => resolve());
      } catch (err) {
        this.log.warn({ err }, 'consumer disconnect failed');
        resolve();
      }
    });
  }
}
