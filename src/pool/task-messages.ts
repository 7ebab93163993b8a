import { ErrorCode, HimariError } from '../errors.js';
import type { ConsumedBatch } from '../source/consumed-batch.js';

/** Messages `from .. to-1` of one consumed batch, all of one partition, in offset order. */
export interface SourceRun {
  batch: ConsumedBatch;
  from: number;
  to: number;
}

/**
 * The messages of one worker task, in task order: the runs it took from its partitions'
 * backlogs, read in place (nothing copied per message). Message `i` of the task is found by
 * walking the runs; a task has a handful. Sinks read offsets and, to dead-letter an event they
 * refuse, the original bytes through it (`MessageSource`).
 */
export class TaskMessages {
  readonly length: number;

  constructor(readonly runs: readonly SourceRun[]) {
    let n = 0;
    for (const r of runs) n += r.to - r.from;
    this.length = n;
  }

  /** The run holding message `i` and the message's index in that run's batch. */
  private locate(i: number): { batch: ConsumedBatch; index: number } {
    let start = 0;
    for (const r of this.runs) {
      const n = r.to - r.from;
      if (i < start + n) return { batch: r.batch, index: r.from + i - start };
      start += n;
    }
    throw new HimariError(ErrorCode.INTERNAL, `message ${i} is not in this task of ${this.length}`);
  }

  offset(i: number): number {
    let start = 0;
    for (const r of this.runs) {
      const n = r.to - r.from;
      if (i < start + n) return r.batch.offsets[r.from + i - start]!;
      start += n;
    }
    throw new HimariError(ErrorCode.INTERNAL, `message ${i} is not in this task of ${this.length}`);
  }

  /** The original bytes of message `i` (a view; empty for a null value). */
  value(i: number): Uint8Array {
    const { batch, index } = this.locate(i);
    return batch.value(index);
  }

  /** The consumed batch and index of message `i`: for its dead letter. */
  at(i: number): { batch: ConsumedBatch; index: number } {
    return this.locate(i);
  }

  /** Messages `lo .. hi-1` as a task of their own (a batch split in two). */
  slice(lo: number, hi: number): TaskMessages {
    const runs: SourceRun[] = [];
    let start = 0;
    for (const r of this.runs) {
      const n = r.to - r.from;
      const a = Math.max(lo, start);
      const b = Math.min(hi, start + n);
      if (a < b) runs.push({ batch: r.batch, from: r.from + a - start, to: r.from + b - start });
      start += n;
    }
    return new TaskMessages(runs);
  }
}
