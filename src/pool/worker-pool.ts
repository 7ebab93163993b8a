import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { ErrorCode, HimariError, errorMessage } from '../errors.js';
import type { Metrics } from '../obs/metrics.js';
import type { CheckResult, CheckTask } from './task.js';
import { partitionKey } from '../source/partition-key.js';
import { RingQueue } from '../util/ring-queue.js';

/**
 * A task built at the moment its slot frees up, so it carries everything pending by then, and
 * what its builder knows of it (`dispatched`: the messages and their offset tickets), handed on
 * with the result to the next stage.
 */
export interface PreparedTask<D> {
  task: CheckTask;
  dispatched: D;
  /** Crashes this task is retried after (default: the pool's `taskRetries`). */
  retries?: number;
}

/** The stage before the pool: it builds the tasks, and rebuilds or splits one whose worker died. */
export interface TaskSource<D> {
  /** The task's buffer again, after a crash took the moved one with it. */
  repack(dispatched: D): ArrayBuffer;
  /**
   * Halves of a batch that failed on every attempt, run one after the other in its place, so a
   * message that kills every worker ends up alone instead of taking its batch-mates to the
   * dead-letter topic with it; null for a single message.
   */
  split(dispatched: D): [PreparedTask<D>, PreparedTask<D>] | null;
}

/** The stage after the pool: every task's result, or its failure when it cannot be split further. */
export interface ResultStage<D> {
  onResult(result: CheckResult, dispatched: D): void;
  /** The batch failed on every attempt and cannot be split (one message): the stage dead-letters it. */
  onFailure(err: Error, dispatched: D): void;
}

/** A task of the pool's own (warm-up, a benchmark's control task): its result settles a promise. */
interface ControlTask {
  task: CheckTask;
  resolve(result: CheckResult): void;
  reject(err: Error): void;
}

/** What a slot queues: a task to build when the slot frees up (null: nothing to run), a built one, or a control task. */
type SlotEntry<D> = (() => PreparedTask<D> | null) | PreparedTask<D> | ControlTask;

interface Slot<D> {
  /** Thread id of the worker this slot is pinned to; -1 until the balancer picks one. */
  threadId: number;
  queue: RingQueue<SlotEntry<D>>;
  running: PreparedTask<D> | ControlTask | null;
  /** True while a task is built: a build that enqueues more must not start a second task. */
  preparing: boolean;
  attempts: number;
  partitions: number;
  /** OS thread id of the worker that ran the slot's last task (0 before the first). */
  osThreadId: number;
}

export interface CheckWorkerPoolOptions {
  filename: string;
  threads: number;
  taskRetries: number;
  log: Logger;
  metrics: Metrics;
  /** Passed to every worker (structured clone): the checks' configuration. */
  workerData?: unknown;
}

/**
 * Piscina pool in which every partition is owned by one slot, and every slot by one worker
 * thread, so per-symbol check state and event order hold. A slot runs one task at a time, in
 * submission order. Tasks are enqueued as builders and built only when the slot frees up, so
 * messages that arrive while a worker is busy travel together in one bigger batch (Piscina
 * costs ~29 µs per task; the boundary should be batch-sized). Results go on to the result stage
 * (`connect`). A task whose worker dies is packed again by its source and retried on the
 * replacement thread; after `taskRetries` failures it is split in halves that run in its place
 * (each once, split again when it fails), and only a single message that still fails reaches
 * the result stage's `onFailure`, where it is dead-lettered.
 */
export class CheckWorkerPool<D> {
  private readonly pool: Piscina<CheckTask, CheckResult>;
  private readonly slots: Array<Slot<D>>;
  private readonly owner = new Map<string, number>();
  private source: TaskSource<D> | null = null;
  private results: ResultStage<D> | null = null;

  constructor(private readonly options: CheckWorkerPoolOptions) {
    this.slots = Array.from({ length: options.threads }, () => ({ threadId: -1, queue: new RingQueue<SlotEntry<D>>(), running: null, preparing: false, attempts: 0, partitions: 0, osThreadId: 0 }));
    this.pool = new Piscina<CheckTask, CheckResult>({
      filename: options.filename,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Infinity,
      // 'async': idle workers wait with Atomics.waitAsync, so their timers (silence checks) run.
      atomics: 'async',
      concurrentTasksPerWorker: 1,
      workerData: options.workerData,
      loadBalancer: (task, workers) => {
        const opts = (task as unknown as Record<symbol, { slot: number } | null>)[Piscina.queueOptionsSymbol];
        if (opts == null) return null;
        const slot = this.slots[opts.slot]!;
        const live = workers.filter((w) => !w.terminating && !w.destroyed);
        const pinned = live.find((w) => w.id === slot.threadId);
        if (pinned !== undefined) return pinned;
        // First task of the slot, or its worker died: take a thread no other slot holds.
        const held = new Set(this.slots.map((s) => s.threadId));
        const free = live.find((w) => !held.has(w.id));
        if (free === undefined) return null; // replacement still starting: Piscina requeues
        slot.threadId = free.id;
        return free;
      },
    });
    this.pool.on('error', (err: Error) => options.log.error({ err }, 'worker pool error'));
  }

  get threads(): number {
    return this.slots.length;
  }

  /** The stages around the pool: where tasks are rebuilt or split, and where results go. Before the first task. */
  connect(source: TaskSource<D>, results: ResultStage<D>): void {
    this.source = source;
    this.results = results;
  }

  /**
   * Starts every thread and pins it to its slot: an empty task each, which first checks
   * `warmupEvents` synthetic events on throwaway state (the worker's `warmUp`).
   */
  async warm(empty: () => ArrayBuffer, warmupEvents = 0): Promise<void> {
    await Promise.all(this.slots.map((s, slot) => this.control(slot, { batch: empty(), topic: '', partition: -1, warmupEvents })));
  }

  /**
   * Runs a task of the caller's own on a slot, after what the slot has queued; resolves with its
   * result (a crash rejects: control tasks are not retried).
   */
  control(slot: number, task: CheckTask): Promise<CheckResult> {
    return new Promise((resolve, reject) => {
      const s = this.slots[slot]!;
      s.queue.push({ task, resolve, reject });
      if (s.running === null) this.pump(slot);
    });
  }

  /** The slot that owns a partition; assigned on first use to the slot with fewest partitions. */
  slotOf(topic: string, partition: number): number {
    const key = partitionKey(topic, partition);
    let slot = this.owner.get(key);
    if (slot === undefined) {
      slot = 0;
      for (let i = 1; i < this.slots.length; i++) if (this.slots[i]!.partitions < this.slots[slot]!.partitions) slot = i;
      this.slots[slot]!.partitions++;
      this.owner.set(key, slot);
    }
    return slot;
  }

  release(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    const slot = this.owner.get(key);
    if (slot !== undefined) {
      this.slots[slot]!.partitions--;
      this.owner.delete(key);
    }
  }

  /** The worker threads' OS thread ids, as their last results said (0 for a slot without one yet). */
  osThreadIds(): number[] {
    return this.slots.map((s) => s.osThreadId);
  }

  /** Tasks queued or running on a slot. */
  backlog(slot: number): number {
    const s = this.slots[slot]!;
    return s.queue.length + (s.running === null ? 0 : 1);
  }

  /**
   * Queues a task for a slot: `prepare` builds it when the slot's previous task has finished
   * (null: nothing left to run by then).
   */
  enqueue(slot: number, prepare: () => PreparedTask<D> | null): void {
    const s = this.slots[slot]!;
    s.queue.push(prepare);
    if (s.running === null) this.pump(slot);
  }

  private pump(slot: number): void {
    const s = this.slots[slot]!;
    if (s.preparing) return;
    while (s.running === null) {
      const entry = s.queue.shift();
      if (entry === undefined) return;
      if (typeof entry === 'function') {
        s.preparing = true;
        try {
          s.running = entry();
        } finally {
          s.preparing = false;
        }
      } else {
        s.running = entry;
      }
      s.attempts = 0;
    }
    const job = s.running;
    const task = job.task as CheckTask & Record<symbol, unknown>;
    task[Piscina.queueOptionsSymbol] = { slot };
    const started = performance.now();
    this.pool.run(task, { transferList: [task.batch] }).then(
      (result) => {
        this.options.metrics.workerSeconds.observe((performance.now() - started) / 1000);
        s.osThreadId = result.osThreadId;
        s.running = null;
        if ('resolve' in job) job.resolve(result);
        else this.results!.onResult(result, job.dispatched);
        // The result stage may have enqueued (and so started) the next task already.
        if (s.running === null) this.pump(slot);
      },
      (err: Error) => {
        s.attempts++;
        this.options.metrics.workerRestarts.inc();
        this.options.log.error({ slot, attempt: s.attempts, topic: task.topic, partition: task.partition, err }, 'worker task failed');
        if ('resolve' in job) {
          s.running = null;
          job.reject(new HimariError(ErrorCode.WORKER_FAILED, `worker failed on a control task: ${errorMessage(err)}`, { cause: err }));
          this.pump(slot);
          return;
        }
        if (s.attempts > (job.retries ?? this.options.taskRetries)) {
          s.running = null;
          const halves = this.source!.split(job.dispatched);
          if (halves !== null) {
            // Ahead of what the slot has queued: the halves keep the batch's place in partition order.
            s.queue.unshift(halves[1]);
            s.queue.unshift(halves[0]);
            this.options.log.warn({ slot, topic: task.topic, partition: task.partition }, 'worker batch failed on every attempt; running it in halves to isolate the message');
          } else {
            this.results!.onFailure(new HimariError(ErrorCode.WORKER_FAILED, `worker failed ${s.attempts} times: ${errorMessage(err)}`, { cause: err }), job.dispatched);
          }
          if (s.running === null) this.pump(slot);
        } else {
          // The moved buffer died with the worker (or was detached): pack the batch again and
          // run the same task on the replacement thread.
          task.batch = this.source!.repack(job.dispatched);
          this.pump(slot);
        }
      },
    );
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
