import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { ErrorCode, HimariError, errorMessage } from '../errors.js';
import type { Metrics } from '../obs/metrics.js';
import type { CheckResult, CheckTask } from './task.js';

interface SlotJob {
  task: CheckTask & { [key: symbol]: unknown };
  /** Rebuilds the task's buffer after a crash took the moved one with it. */
  repack: () => ArrayBuffer;
  resolve: (r: CheckResult) => void;
  reject: (err: Error) => void;
  attempts: number;
}

interface Slot {
  /** Thread id of the worker this slot is pinned to; -1 until the balancer picks one. */
  threadId: number;
  queue: SlotJob[];
  busy: boolean;
  partitions: number;
}

export interface CheckWorkerPoolOptions {
  filename: string;
  threads: number;
  taskRetries: number;
  log: Logger;
  metrics: Metrics;
}

/**
 * Piscina pool in which every partition is owned by one slot, and every slot by one worker
 * thread, so per-symbol check state and event order hold. A slot runs one task at a time, in
 * submission order (the next batch of a partition waits for the previous one; meanwhile the
 * consumer packs a bigger one). A task whose worker dies is packed again from the source
 * messages and retried on the replacement thread; after `taskRetries` failures it rejects
 * and the caller dead-letters the batch.
 */
export class CheckWorkerPool {
  private readonly pool: Piscina<CheckTask, CheckResult>;
  private readonly slots: Slot[];
  private readonly owner = new Map<string, number>();
  private readonly slotKey = Symbol('slot');

  constructor(private readonly options: CheckWorkerPoolOptions) {
    this.slots = Array.from({ length: options.threads }, () => ({ threadId: -1, queue: [], busy: false, partitions: 0 }));
    this.pool = new Piscina<CheckTask, CheckResult>({
      filename: options.filename,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Infinity,
      // 'async': idle workers wait with Atomics.waitAsync, so their timers (silence checks) run.
      atomics: 'async',
      concurrentTasksPerWorker: 1,
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
    this.pool.on('error', (err: Error) => options.log.error({ err: err.message }, 'worker pool error'));
  }

  get threads(): number {
    return this.slots.length;
  }

  /** Starts every thread and pins it to its slot (an empty task each). */
  async warm(empty: () => ArrayBuffer): Promise<void> {
    await Promise.all(this.slots.map((_, i) => this.runOnSlot(i, { batch: empty(), topic: '', partition: -1 }, empty)));
  }

  /** The slot that owns a partition; assigned on first use to the slot with fewest partitions. */
  slotOf(topic: string, partition: number): number {
    const key = `${topic}\u0000${partition}`;
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
    const key = `${topic}\u0000${partition}`;
    const slot = this.owner.get(key);
    if (slot !== undefined) {
      this.slots[slot]!.partitions--;
      this.owner.delete(key);
    }
  }

  /** Tasks queued or running on a slot. */
  backlog(slot: number): number {
    const s = this.slots[slot]!;
    return s.queue.length + (s.busy ? 1 : 0);
  }

  run(task: CheckTask, repack: () => ArrayBuffer): Promise<CheckResult> {
    return this.runOnSlot(this.slotOf(task.topic, task.partition), task, repack);
  }

  private runOnSlot(slot: number, task: CheckTask, repack: () => ArrayBuffer): Promise<CheckResult> {
    return new Promise((resolve, reject) => {
      const t = task as SlotJob['task'];
      t[Piscina.queueOptionsSymbol] = { slot };
      this.slots[slot]!.queue.push({ task: t, repack, resolve, reject, attempts: 0 });
      this.pump(slot);
    });
  }

  private pump(slot: number): void {
    const s = this.slots[slot]!;
    if (s.busy || s.queue.length === 0) return;
    const job = s.queue[0]!;
    s.busy = true;
    const started = performance.now();
    this.pool.run(job.task, { transferList: [job.task.batch] }).then(
      (result) => {
        this.options.metrics.workerSeconds.observe((performance.now() - started) / 1000);
        s.queue.shift();
        s.busy = false;
        job.resolve(result);
        this.pump(slot);
      },
      (err: Error) => {
        s.busy = false;
        job.attempts++;
        this.options.metrics.workerRestarts.inc();
        this.options.log.error({ slot, attempt: job.attempts, topic: job.task.topic, partition: job.task.partition, err: errorMessage(err) }, 'worker task failed');
        if (job.attempts > this.options.taskRetries) {
          s.queue.shift();
          job.reject(new HimariError(ErrorCode.WORKER_FAILED, `worker failed ${job.attempts} times: ${errorMessage(err)}`, { cause: err }));
        } else {
          // The moved buffer died with the worker (or was detached): pack the batch again.
          job.task.batch = job.repack();
        }
        this.pump(slot);
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
