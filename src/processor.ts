import type { Config } from './config/schema.js';
import type { CloseOutcome } from './pipeline.js';

/** What the run looks like now: readiness, partitions, counts, lag, sink outages. */
export interface ProcessorStatus {
  /** Empty when ready (see `Pipeline.notReadyReasons`). */
  notReadyReasons: string[];
  /** Partitions assigned to this instance. */
  assigned: number;
  /** Messages consumed since start. */
  consumed: number;
  /** Per assigned partition, the messages the sinks do not hold yet (`Pipeline.partitionLags`). */
  lags: Array<{ topic: string; partition: number; lag: number }>;
  /** The event sinks (not the dead-letter topic): how long each has been failing (0: healthy) and why. */
  sinks: Array<{ name: string; outageMs: number; statusText: string }>;
  /** Why the pipeline cannot be answering at all (its thread silent), else null: a restart is the cure. */
  stalled: string | null;
}

/** What a run did, for its summary. */
export interface RunSummary {
  consumed: number;
  verdicts: number[];
  checkFailures: number[];
  /** Per event sink, send → confirmed write latency, µs. */
  sinks: Array<{ name: string; latency: { count: number; p50: number; p90: number; p99: number; max: number } }>;
  /** Last committed offset per `topic[partition]`. */
  committed: Array<[string, number]>;
}

/**
 * The running processor as the `run` command and systemd see it: `App` in this thread, or
 * `PipelineThread` in front of one in a worker thread (the Kafka clients stay on the main thread).
 */
export interface Processor {
  readonly config: Readonly<Config>;
  /** Start-up time, ms, once started. */
  readonly startupMs: number;
  /** The storage mode the schema is in (`partitioned`, `timescaledb`, ...), once started. */
  readonly storageMode: string | undefined;
  start(): Promise<void>;
  /** Stops within `deadlineMs` (`shutdown.deadlineMs` by default): see `Pipeline.close`. */
  close(deadlineMs?: number): Promise<CloseOutcome>;
  status(): ProcessorStatus;
  summary(): RunSummary;
}
