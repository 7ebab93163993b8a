import type { CheckConfig } from '../checks/thresholds.js';
/**
 * What crosses the worker boundary. Both directions carry buffers that are moved, not copied:
 * the packed input goes to the worker and comes back with the result for reuse.
 */
export interface CheckTask {
  /** A `BatchPacker` buffer: message values with their Kafka partitions and offsets. */
  batch: ArrayBuffer;
  /** For logs: the topic of the batch's messages. */
  topic: string;
  /** For logs: their partition, or -1 when they come from several (each message's is in the batch). */
  partition: number;
  /**
   * Start-up only, with an empty batch: check this many synthetic events first, on state of
   * their own that is then thrown away (see `warmUp` in the worker).
   */
  warmupEvents?: number;
}

/** A message that never became an event; goes to the dead-letter topic. Plain data. */
export interface DeadLetterReport {
  index: number;
  code: string;
  message: string;
}

export interface CheckResult {
  /** The task's input buffer, moved back so the main thread can pack the next batch into it. */
  batch: ArrayBuffer;
  count: number;
  /** `Verdict` per message. */
  verdicts: Uint8Array;
  /** Symbol per message (the output topic's key); '' for dead letters. */
  symbols: string[];
  /** Binary COPY rows (`writeBinaryRow`); message i's row is `copyRows[copyEnds[i-1] .. copyEnds[i])` (empty for dead letters). */
  copyRows: Uint8Array;
  copyEnds: Uint32Array;
  /**
   * What the Redis script applies, one packed record per event (`redis-record.ts`: offset, time,
   * verdict, venue, symbol, the venue's event key, the event JSON with its verdict, and for rejects
   * and cascade indicators the failed checks with values and thresholds); same indexing as the
   * COPY rows, empty for dead letters.
   */
  redisRecords: Uint8Array;
  redisEnds: Uint32Array;
  deadLetters: DeadLetterReport[];
  /** How often each check bit failed in this batch (64 entries). */
  checkFailures: Uint32Array;
  /** Time the worker spent on the task, ms (the pool's utilization metric). */
  busyMs: number;
  /** The worker's OS thread id (/proc/thread-self), 0 where unknown: the load test's per-thread CPU. */
  osThreadId: number;
}

/**
 * What the pool passes every worker (structured clone, once): the validated `checks` config
 * section and the cross-venue reference, one SharedArrayBuffer that every worker maps (shared,
 * never copied). Tests and benchmarks that call the worker's checkBatch in-process get the
 * defaults.
 */
export interface CheckWorkerData {
  checks?: CheckConfig;
  symbolIdleMs?: number;
  reference?: SharedArrayBuffer;
}
