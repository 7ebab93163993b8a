import type { EncodedHistogram } from './latency-histogram.js';
import type { LatencySecond } from './latency-series.js';

/** The latency report's entry that is a stage of the processor, not a sink. */
export const DISPATCH_STAGE = 'dispatch';

/**
 * Latencies (µs from the send time), as `/debug/latency` serves them: to the confirmed write of
 * every sink, and to the stage `dispatch` (packed for a worker: Kafka's transit and the waits
 * before the checks), which tells how much of a sink's latency is spent before the processor
 * works on the event.
 */
export interface LatencyReport {
  /** The processor's clock when answering, Unix ms. */
  nowMs: number;
  consumed: number;
  /** The processor's process id and its worker threads' OS thread ids (the load test's per-thread CPU). */
  pid: number;
  workerThreadIds: number[];
  /** The OS thread id of the pipeline's thread when it is not the main thread (`workers.pipelineThread`), else 0. */
  pipelineThreadId: number;
  sinks: Array<{ name: string; total: EncodedHistogram; seconds: LatencySecond[] }>;
}
