import type { SinkStore } from '../config/schema.js';
import type { EncodedHistogram } from '../obs/latency-histogram.js';
import type { ProduceStats } from './generator.js';
import type { ReadCeiling } from './kafka-probe.js';
import type { LagSample, LagVerdict } from './lag.js';
import type { LoopDelayStats, SinkWriteStats, WorkerTaskStats } from './prom-scrape.js';
import type { RateStep } from './schedule.js';
import type { ThreadBreakdown } from './proc-stats.js';
import type { ServiceName } from './service-cpu.js';

// What a load test is asked (LoadtestOptions) and what it reports (LoadtestResult): shared by
// the runner (run.ts and its modes, mode-*.ts), the report (report.ts) and the CLI.

export type LoadtestMode = 'rate' | 'drain' | 'find-max';

export interface LoadtestOptions {
  mode: LoadtestMode;
  /** Open-loop rate steps (rate mode); a fixed rate is one step. */
  steps: RateStep[];
  durationS: number;
  /**
   * Rate mode: seconds at the first rate before the measured window (the generator, the run's
   * new partitions and the processor's connections reach their steady state). Reported apart.
   */
  warmupS: number;
  /**
   * Rate mode: seconds of Kafka transit alone, measured before the processor starts (the same
   * rate, partitions and fetch settings, a bare consumer; after a warm-up of `warmupS`); 0 skips.
   */
  transitS: number;
  /** Drain mode: backlog size. */
  count: number;
  /**
   * Drain mode: the backlog's messages carry the `x-intended-ns` header the rate modes measure
   * latency from. Off by default: the gateway's events have no headers, and node-rdkafka turns
   * each header into objects per message.
   */
  stampBacklog: boolean;
  /** Drain mode: processor processes of the one consumer group (metrics ports `metricsPort`, +1, ...). */
  processes: number;
  symbols: number;
  venues: string[];
  seed: number;
  /** Find-max: seconds per step, first rate, bounds, and when to stop bisecting. */
  stepS: number;
  startRate: number;
  maxRate: number;
  maxSteps: number;
  /** Where the processor writes: its own database, Redis URL (with db index) and metrics port. */
  postgresUrl: string;
  redisUrl: string;
  metricsPort: number;
  partitions: number;
  /** Worker threads of the processor (its default when unset). */
  threads?: number;
  /** The stores the processor writes (`sink.stores`). */
  stores: SinkStore[];
  outDir: string;
  /** Also write NAME.json and NAME.html (reference runs the README links). */
  name?: string;
  /** Keep the topic, table and Redis keys afterwards. */
  keep: boolean;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** The run's state, once a second while the processor runs (and while a backlog is produced): a status line on a terminal. */
  progress?: (status: string) => void;
}

export interface LatencySummaryMs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** One second of the run, sampled by the load test. */
export interface SampleRow {
  /** Seconds since the run's t=0 (the generator's start; the processor's ready in drain mode). */
  t: number;
  /** Messages the generator sent in the last second. */
  sentPerS: number;
  /** Group's committed offsets advanced by this many in the last second: processed and confirmed. */
  committedPerS: number;
  lag: number;
  cpuPct: number;
  cpuMs: number;
  rssMb: number;
}

/** Latency of the events confirmed in one wall-clock second, per sink, ms. */
export interface LatencyRow {
  t: number;
  sinks: Record<string, LatencySummaryMs>;
}

export interface FindMaxStep {
  rate: number;
  achievedRate: number;
  startT: number;
  endT: number;
  passed: boolean;
  verdict: LagVerdict;
  lagSamples: LagSample[];
  latency: Record<string, LatencySummaryMs>;
  cpuUsPerMessage: number;
  /** Seconds the backlog took to go back under the floor after the step (null: it did not in time). */
  recoveryS: number | null;
}

export interface LoadtestResult {
  version: 1;
  mode: LoadtestMode;
  startedAt: string;
  options: Omit<LoadtestOptions, 'log'>;
  machine: { cores: number; node: string; loadavgAtStart: number[] };
  names: { topic: string; group: string; table: string; redisPrefix: string };
  processor: {
    readyAfterMs: number;
    reportedStartupMs: number;
    /** Child CPU (all threads) when the measured window began: at ready, or after the warm-up. */
    cpuMsAtStart: number;
    /** Child CPU (all threads) from `cpuMsAtStart` to the end of the measured window. */
    cpuMs: number;
    messages: number;
    cpuUsPerMessage: number;
    peakRssBytes: number;
    exitCode: number | null;
    /** CPU per event by thread over the measured window (Linux), and the ceiling the busiest implies. */
    threads: ThreadBreakdown | null;
  };
  generator: ProduceStats & { durationS: number; achievedRate: number; lateness: LatencySummaryMs };
  /** From the processor's /metrics at the end: how the sinks wrote (why latency is what it is). */
  sinkWrites: Record<string, SinkWriteStats>;
  /** From the same scrape: worker tasks (absent when the scrape failed). */
  workerTasks?: WorkerTaskStats;
  /**
   * From the same scrape: each thread's event loop over the whole run, start-up included, as
   * seconds by their longest delay (absent when the scrape failed).
   */
  loopDelays?: Record<string, LoopDelayStats>;
  latency: Record<string, { summary: LatencySummaryMs; percentiles: Array<{ p: number; ms: number }>; histogram: EncodedHistogram; processorTotalCount: number }>;
  samples: SampleRow[];
  latencyOverTime: LatencyRow[];
  /** Rate mode: the seconds before the measured window, which `latency` and `processor` leave out. */
  warmup?: { seconds: number; messages: number; latency: Record<string, LatencySummaryMs> };
  /** Rate mode: intended send → in a bare consumer's hands, before the processor started (TransitProbe). */
  transit?: { topic: string; rate: number; seconds: number; warmupS: number; partitions: number; received: number; latency: LatencySummaryMs; generatorLateness: LatencySummaryMs };
  drain?: {
    count: number;
    produceMs: number;
    produceRate: number;
    drainMs: number;
    eventsPerSec: number;
    cpuUsPerEvent: number;
    peakRssBytes: number;
    ceiling: ReadCeiling;
    ratioToCeiling: number;
    /**
     * The machine's CPU left idle over the drain, 0-1 of all its cores (null: /proc/stat unread):
     * whether a second process would find a core free.
     */
    machineIdle: number | null;
    /**
     * µs of CPU per event drained, over the drain: the whole machine's busy time (null: /proc/stat
     * unread), and each service's processes on this machine (null: none found by name). With the
     * processor's `cpuUsPerEvent`, the budget the machine's cores divide: cores / `machineUsPerEvent`
     * is the rate the machine allows at these costs.
     */
    machineUsPerEvent: number | null;
    services: Record<ServiceName, number | null>;
    /** With several processes: each one's share (`cpuUsPerEvent` above is theirs together). */
    processes?: Array<{ pid: number; consumed: number; cpuMs: number; cpuUsPerEvent: number }>;
  };
  findMax?: {
    criterion: string;
    foundRate: number;
    steps: FindMaxStep[];
  };
  files: { json: string; html: string };
}

