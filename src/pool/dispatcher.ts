import { BatchPacker, packedSize } from '../batch/pack.js';
import { ErrorCode, HimariError } from '../errors.js';
import { wallClockMs } from '../obs/clock.js';
import { LatencyHistogram } from '../obs/latency-histogram.js';
import { LatencySeries } from '../obs/latency-series.js';
import type { Metrics } from '../obs/metrics.js';
import type { ConsumedBatch } from '../source/consumed-batch.js';
import type { BatchTicket, OffsetTracker } from '../source/offset-tracker.js';
import { partitionKey, type PartitionKey } from '../source/partition-key.js';
import { RingQueue } from '../util/ring-queue.js';
import { TaskMessages, type SourceRun } from './task-messages.js';
import type { CheckResult } from './task.js';
import type { CheckWorkerPool, PreparedTask, TaskSource } from './worker-pool.js';

/** Minimum size of a pooled pack buffer; larger batches get a buffer of their own size. */
const PACK_BUFFER_BYTES = 1 << 20;

/** Messages of one partition waiting for its worker slot. */
export interface PartitionBacklog {
  topic: string;
  partition: number;
  slot: number;
  /** Runs of consumed batches, in offset order. */
  runs: SourceRun[];
  /** Messages in `runs`. */
  waiting: number;
  /** In its slot's pending list. */
  pending: boolean;
  /** First message consumed since the partition was assigned: where a replay starts. */
  firstOffset: number;
  firstTimestampMs: number;
}

/**
 * A worker slot's partitions with messages waiting, and whether a task for them is queued. One
 * task carries every pending partition of the slot (up to `maxBatchMessages`): a task per
 * partition cost a thread wake-up each way per partition, which at 10,000 events/s was most
 * of the processor's CPU.
 */
interface SlotBacklog {
  pending: RingQueue<PartitionBacklog>;
  queued: boolean;
}

/** One partition's run of messages `from .. to-1` in a task, and the ticket of their offsets. */
export interface TaskPart {
  backlog: PartitionBacklog;
  from: number;
  to: number;
  ticket: BatchTicket;
}

/** What a task carried: its messages, the partitions they belong to, and each one's send time (ms). */
export interface DispatchedTask {
  messages: TaskMessages;
  parts: TaskPart[];
  sentMs: Float64Array;
}

export interface DispatcherOptions {
  pool: CheckWorkerPool<DispatchedTask>;
  tracker: OffsetTracker;
  metrics: Metrics;
  maxBatchMessages: number;
  /** Larger values travel as empty messages (the result handler dead-letters them). */
  maxMessageBytes: number;
}

/**
 * From consumed messages to worker tasks: per-partition backlogs in arrival order, the slot each
 * partition is pinned to, packing into moved buffers from a small pool, and the dispatch latency
 * (send time to packed for a worker). Tasks are built when their slot frees up, from everything
 * that arrived by then, and tracked for commits (`OffsetTracker` tickets) as they are taken.
 */
export class Dispatcher implements TaskSource<DispatchedTask> {
  /**
   * Send time (intended, else Kafka timestamp) to the message being packed for its worker, µs:
   * Kafka's transit plus the waits before the checks. The sinks' latencies go on from here; the
   * load test reports it as the stage `dispatch`.
   */
  readonly latency = new LatencyHistogram();
  readonly latencySeries = new LatencySeries();
  private readonly backlogs = new Map<PartitionKey, PartitionBacklog>();
  private readonly slots: SlotBacklog[];
  private readonly freeBuffers: ArrayBuffer[] = [];
  private readonly packer = new BatchPacker(new ArrayBuffer(0));
  /** Messages taken from Kafka and not yet handed to a worker. */
  private waiting = 0;

  constructor(private readonly options: DispatcherOptions) {
    this.slots = Array.from({ length: options.pool.threads }, () => ({ pending: new RingQueue<PartitionBacklog>(), queued: false }));
  }

  /**
   * More messages wait for workers than a few full batches per thread: the consumer should
   * pause (backpressure).
   */
  get overloaded(): boolean {
    return this.waiting > 4 * this.options.maxBatchMessages * this.options.pool.threads;
  }

  /**
   * Appends one consume call's messages to their partitions' backlogs (order kept; a run of a
   * partition is a reference into the batch, not a copy) and queues a task for each slot that
   * has none queued. Returns `overloaded`.
   */
  dispatch(batch: ConsumedBatch): boolean {
    const n = batch.count;
    this.waiting += n;
    let runStart = 0;
    for (let i = 1; i <= n; i++) {
      if (i < n && batch.samePartition(i, i - 1)) continue;
      const topic = batch.topic(runStart);
      const backlog = this.backlogOf(topic, batch.partitions[runStart]!);
      if (backlog.firstOffset < 0) {
        backlog.firstOffset = batch.offsets[runStart]!;
        backlog.firstTimestampMs = batch.timestampMs(runStart) ?? Date.now();
      }
      backlog.runs.push({ batch, from: runStart, to: i });
      backlog.waiting += i - runStart;
      this.options.metrics.consumed.inc({ topic }, i - runStart);
      const slot = this.slots[backlog.slot]!;
      if (!backlog.pending) {
        backlog.pending = true;
        slot.pending.push(backlog);
      }
      if (!slot.queued) this.queueTask(backlog.slot);
      runStart = i;
    }
    return this.overloaded;
  }

  /** Where this assignment of a partition started (its first consumed message), if it consumed one. */
  firstOf(topic: string, partition: number): PartitionBacklog | undefined {
    return this.backlogs.get(partitionKey(topic, partition));
  }

  /** A revoked partition: what waits of it is dropped (its new owner replays it). */
  forget(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    const backlog = this.backlogs.get(key);
    if (backlog === undefined) return;
    this.waiting -= backlog.waiting;
    backlog.runs = [];
    backlog.waiting = 0;
    this.backlogs.delete(key);
  }

  /** A packed batch of no messages (warm-up tasks). */
  emptyBatch(): ArrayBuffer {
    const b = new ArrayBuffer(packedSize(0, 0));
    this.packer.reset(b, 0);
    return this.packer.finish();
  }

  /**
   * A task's buffer, moved back with its result: into the pool (allocating and zeroing a fresh
   * 1 MiB one per task cost ~200 µs and most of the main thread's CPU).
   */
  recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength === PACK_BUFFER_BYTES && this.freeBuffers.length < this.options.pool.threads * 4) {
      this.freeBuffers.push(buffer);
    }
  }

  private backlogOf(topic: string, partition: number): PartitionBacklog {
    const key = partitionKey(topic, partition);
    let b = this.backlogs.get(key);
    if (b === undefined) {
      b = { topic, partition, slot: this.options.pool.slotOf(topic, partition), runs: [], waiting: 0, pending: false, firstOffset: -1, firstTimestampMs: 0 };
      this.backlogs.set(key, b);
    }
    return b;
  }

  private queueTask(slot: number): void {
    this.slots[slot]!.queued = true;
    this.options.pool.enqueue(slot, () => this.prepareTask(slot));
  }

  /**
   * Takes up to `maxBatchMessages` of the slot's pending partitions into one packed task, in
   * the order they became pending; what does not fit stays pending (at the back) for the next.
   * Null when nothing is left (every pending partition was revoked meanwhile).
   */
  private prepareTask(slotIndex: number): PreparedTask<DispatchedTask> | null {
    const slot = this.slots[slotIndex]!;
    slot.queued = false;
    const max = this.options.maxBatchMessages;
    const runs: SourceRun[] = [];
    const parts: TaskPart[] = [];
    let taken = 0;
    while (taken < max && slot.pending.length > 0) {
      const backlog = slot.pending.shift()!;
      backlog.pending = false;
      // A partition revoked while pending has an emptied backlog: the new owner replays it.
      if (backlog.waiting === 0) continue;
      const first = taken;
      let firstOffset = -1;
      let lastOffset = -1;
      while (taken < max && backlog.runs.length > 0) {
        const run = backlog.runs[0]!;
        const take = Math.min(max - taken, run.to - run.from);
        const part = take === run.to - run.from ? backlog.runs.shift()! : { batch: run.batch, from: run.from, to: run.from + take };
        if (part !== run) run.from += take;
        if (firstOffset < 0) firstOffset = part.batch.offsets[part.from]!;
        lastOffset = part.batch.offsets[part.to - 1]!;
        runs.push(part);
        taken += take;
        backlog.waiting -= take;
      }
      if (backlog.waiting > 0) {
        backlog.pending = true;
        slot.pending.push(backlog);
      }
      const ticket = this.options.tracker.partition(backlog.topic, backlog.partition).track(firstOffset, lastOffset, 1);
      parts.push({ backlog, from: first, to: taken, ticket });
    }
    if (slot.pending.length > 0) this.queueTask(slotIndex);
    if (taken === 0) return null;
    this.waiting -= taken;

    const sentMs = new Float64Array(taken);
    const now = wallClockMs();
    const second = this.latencySeries.at(now);
    let i = 0;
    for (const run of runs) {
      const sentOf = run.batch.sentMs;
      for (let j = run.from; j < run.to; j++, i++) {
        const sent = sentOf[j]!;
        sentMs[i] = sent;
        if (sent > 0) {
          const us = (now - sent) * 1000;
          this.latency.record(us);
          second.record(us);
        }
      }
    }
    this.options.metrics.workerBatchSize.observe(taken);
    return this.preparedTask({ messages: new TaskMessages(runs), parts, sentMs });
  }

  private preparedTask(dispatched: DispatchedTask, retries?: number): PreparedTask<DispatchedTask> {
    const { messages, parts } = dispatched;
    const first = parts[0]!.backlog;
    return {
      task: { batch: this.pack(messages), topic: first.topic, partition: parts.length === 1 ? first.partition : -1 },
      dispatched,
      ...(retries === undefined ? {} : { retries }),
    };
  }

  /** See `TaskSource.repack`. */
  repack(dispatched: DispatchedTask): ArrayBuffer {
    return this.pack(dispatched.messages);
  }

  /**
   * The halves of a batch whose worker died on every attempt, each tried once (split again when
   * it fails): the message that kills workers ends up alone and is dead-lettered, the rest is
   * checked and written. A part cut in two is acknowledged by both halves' worker stage, so its
   * ticket expects one acknowledgement more.
   */
  split({ messages, parts, sentMs }: DispatchedTask): [PreparedTask<DispatchedTask>, PreparedTask<DispatchedTask>] | null {
    if (messages.length < 2) return null;
    const mid = messages.length >> 1;
    const half = (lo: number, hi: number): PreparedTask<DispatchedTask> => {
      const sub: TaskPart[] = [];
      for (const p of parts) {
        if (p.to > lo && p.from < hi) sub.push({ backlog: p.backlog, from: Math.max(p.from, lo) - lo, to: Math.min(p.to, hi) - lo, ticket: p.ticket });
      }
      return this.preparedTask({ messages: messages.slice(lo, hi), parts: sub, sentMs: sentMs.subarray(lo, hi) }, 0);
    };
    for (const p of parts) if (p.from < mid && p.to > mid) p.ticket.expect(1);
    return [half(0, mid), half(mid, messages.length)];
  }

  private pack(messages: TaskMessages): ArrayBuffer {
    const max = this.options.maxMessageBytes;
    let bytes = 0;
    for (const { batch, from, to } of messages.runs) {
      for (let i = from; i < to; i++) {
        const n = batch.valueLength(i);
        if (n <= max) bytes += n;
      }
    }
    const buffer = this.takeBuffer(packedSize(messages.length, bytes));
    this.packer.reset(buffer, messages.length);
    // Oversized values travel as empty messages (null ones are empty already); the result
    // handler dead-letters both.
    for (const { batch, from, to } of messages.runs) {
      if (!this.packer.appendRun(batch, from, to, max)) throw new HimariError(ErrorCode.INTERNAL, 'pack buffer too small (size computed above)');
    }
    return this.packer.finish();
  }

  private takeBuffer(bytes: number): ArrayBuffer {
    if (bytes <= PACK_BUFFER_BYTES) {
      const b = this.freeBuffers.pop();
      if (b !== undefined) return b;
      return new ArrayBuffer(PACK_BUFFER_BYTES);
    }
    return new ArrayBuffer(bytes);
  }
}
