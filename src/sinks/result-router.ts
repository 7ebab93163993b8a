import { VERDICT_NAMES, Verdict } from '../codec/event.js';
import { checkByBit } from '../checks/registry.js';
import { ErrorCode, HimariError } from '../errors.js';
import type { Metrics } from '../obs/metrics.js';
import type { DispatchedTask, TaskPart } from '../pool/dispatcher.js';
import type { CheckResult } from '../pool/task.js';
import type { ResultStage } from '../pool/worker-pool.js';
import type { TaskMessages } from '../pool/task-messages.js';
import type { BatchTicket } from '../source/offset-tracker.js';
import { EventChunk } from './chunk.js';
import type { SinkCore } from './core.js';

/** `himari_check_failures_total`'s label per check bit: the check's id. */
const CHECK_LABELS: readonly string[] = Array.from({ length: 64 }, (_, bit) => checkByBit(bit)?.id ?? `bit${bit}`);

/** Counts since start, for the run summary. */
export interface RoutedTotals {
  verdicts: number[];
  checkFailures: number[];
}

export interface ResultRouterOptions {
  sinks: ReadonlyArray<SinkCore<EventChunk>>;
  metrics: Metrics;
  totals: RoutedTotals;
  /** Values above this were sent to the worker empty (see the dispatcher): their dead letters say so. */
  maxMessageBytes: number;
  /** Sends the dead letter of the task's message `index`; the batch's ticket waits for it. */
  deadLetter(ticket: BatchTicket, messages: TaskMessages, index: number, code: string, message: string): void;
  /** The task's buffer, moved back with the result, for the next task. */
  recycle(buffer: ArrayBuffer): void;
  /** After each result or failure: backpressure (the pipeline pauses or resumes the source). */
  afterRoute(): void;
}

/**
 * The stage after the worker pool: worker results to the sinks. Counts the verdicts and check
 * failures, sends the messages that never became events to the dead-letter topic, and pushes
 * each partition's run of events to every sink as one chunk, whose ticket then waits for every
 * sink (and the worker stage, which it acknowledges here).
 */
export class ResultRouter implements ResultStage<DispatchedTask> {
  private readonly localVerdicts = [0, 0, 0, 0];

  constructor(private readonly o: ResultRouterOptions) {}

  onResult(result: CheckResult, task: DispatchedTask): void {
    this.route(result, task);
    this.o.afterRoute();
  }

  /** A batch whose worker kept dying, down to one message: it goes to the dead-letter topic. */
  onFailure(err: Error, { messages, parts }: DispatchedTask): void {
    this.o.totals.verdicts[Verdict.DEAD_LETTER]! += messages.length;
    for (const part of parts) {
      for (let i = part.from; i < part.to; i++) this.o.deadLetter(part.ticket, messages, i, ErrorCode.WORKER_FAILED, err.message);
      part.ticket.ack(); // the worker stage
    }
    this.o.afterRoute();
  }

  route(result: CheckResult, { messages, parts, sentMs }: DispatchedTask): void {
    const { metrics, totals, sinks } = this.o;
    const n = result.count;
    metrics.workerBusy.inc(result.busyMs / 1000);
    const local = this.localVerdicts;
    local.fill(0);
    for (let i = 0; i < n; i++) local[result.verdicts[i]!]!++;
    for (let v = 0; v < 4; v++) {
      if (local[v]! > 0) {
        totals.verdicts[v]! += local[v]!;
        metrics.verdicts.inc({ verdict: VERDICT_NAMES[v]! }, local[v]!);
      }
    }
    for (let b = 0; b < 64; b++) {
      const c = result.checkFailures[b]!;
      if (c > 0) {
        totals.checkFailures[b]! += c;
        metrics.checkFailures.inc({ check: CHECK_LABELS[b]! }, c);
      }
    }

    const max = this.o.maxMessageBytes;
    for (const dl of result.deadLetters) {
      const { batch, index } = messages.at(dl.index);
      const bytes = batch.valueLength(index);
      const oversized = bytes > max;
      this.o.deadLetter(partOf(parts, dl.index).ticket, messages, dl.index, oversized ? ErrorCode.MESSAGE_TOO_LARGE : dl.code,
        oversized ? `message of ${bytes} bytes exceeds kafka.maxMessageBytes=${max}` : batch.valueIsNull(index) ? 'null message value' : dl.message);
    }

    // The pack buffer goes straight back to the dispatcher's pool; sinks read offsets and, to
    // dead-letter an event they refuse, the original bytes from the consumed batches.
    this.o.recycle(result.batch);
    for (const part of parts) {
      let written = false;
      for (let i = part.from; i < part.to && !written; i++) written = result.verdicts[i] !== Verdict.DEAD_LETTER;
      if (written) {
        part.ticket.expect(sinks.length);
        const { topic, partition } = part.backlog;
        for (const sink of sinks) sink.push(new EventChunk(result, messages, topic, partition, part.from, part.to, part.ticket, sentMs));
      }
      part.ticket.ack(); // the worker stage
    }
  }
}

/** The part of a task that message `index` belongs to (a task has a handful of parts). */
export function partOf(parts: readonly TaskPart[], index: number): TaskPart {
  for (const p of parts) if (index < p.to) return p;
  throw new HimariError(ErrorCode.INTERNAL, `message ${index} is in no part of its task`);
}
