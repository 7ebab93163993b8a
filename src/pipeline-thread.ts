import { MessageChannel, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { ErrorCode, HimariError } from './errors.js';
import { openLocalKafkaClients, type KafkaClients } from './kafka/kafka-clients.js';
import { fromWireError, type WireError } from './kafka/port-protocol.js';
import { serveKafkaClients } from './kafka/serve-clients.js';
import type { CloseOutcome } from './pipeline.js';
import { LoopDelayMonitor } from './obs/loop-delay.js';
import type { Processor, ProcessorStatus, RunSummary } from './processor.js';

const THREAD_FILE = new URL('./pipeline-thread-main.js', import.meta.url);
/** V8's young generation of the pipeline thread: 3 × its 8 MiB semi-space (see the constructor). */
const PIPELINE_YOUNG_GENERATION_MB = 24;

export interface PipelineThreadData {
  config: Readonly<Config>;
}

/** What the pipeline thread tells the main thread. */
export type ToMain =
  | { op: 'status'; status: ProcessorStatus; atMs: number }
  | { op: 'started'; startupMs: number; storageMode: string | undefined; status: ProcessorStatus }
  | { op: 'startFailed'; error: WireError }
  | { op: 'closed'; outcome: CloseOutcome; summary: RunSummary }
  | { op: 'closeFailed'; error: WireError };

export type ToPipeline =
  | { op: 'close'; deadlineMs: number | undefined }
  /** The main thread's (the Kafka clients') longest event-loop delay of the last second. */
  | { op: 'loopDelay'; maxSeconds: number };

/** A status older than this says the pipeline thread is stuck (systemd's watchdog then withholds). */
const STATUS_STALE_MS = 5_000;

/**
 * The processor with its pipeline in a worker thread and its Kafka clients on the main thread
 * (`workers.pipelineThread`). node-rdkafka runs its callbacks on the main loop, so its clients
 * cannot leave the main thread; the pipeline can: dispatch, results, sinks, metrics and the check
 * pool run in the pipeline thread, which gets the clients over a port (`PortKafkaClients`,
 * `serveKafkaClients`) and the consumed messages as one moved buffer per consume call. The main
 * thread then spends its time on node-rdkafka alone (building message objects is most of a
 * consumer's cost), and the two stages run on two cores: on the production box the busiest
 * thread, not the sum of both, bounds one process.
 *
 * Signals, exit codes, systemd and the summary stay on the main thread (the `run` command):
 * this class answers them from the status the pipeline thread sends every 200 ms.
 */
export class PipelineThread implements Processor {
  startupMs = 0;
  storageMode: string | undefined = undefined;
  private lastStatus: ProcessorStatus = { notReadyReasons: ['starting'], assigned: 0, consumed: 0, lags: [], sinks: [], stalled: null };
  private lastStatusAt = Date.now();
  private summary_: RunSummary | null = null;
  private readonly worker: Worker;
  private readonly served: Promise<void>;
  /** Settles with the pipeline thread's start (it starts as soon as it runs). */
  private readonly started: Promise<void>;
  private starting: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private closing: { resolve: (o: CloseOutcome) => void; reject: (e: Error) => void } | null = null;
  private closed: Promise<CloseOutcome> | null = null;
  private exited = false;
  private loopDelay: LoopDelayMonitor | null = null;

  private constructor(readonly config: Readonly<Config>, private readonly log: Logger, kafka: KafkaClients, private readonly onFatal: (err: Error) => void) {
    this.started = new Promise((resolve, reject) => { this.starting = { resolve, reject }; });
    this.started.catch(() => {}); // said by start()
    const { port1, port2 } = new MessageChannel();
    this.served = serveKafkaClients(port1, kafka, log);
    // A young generation of at most 8 MiB semi-spaces (V8 grows them to 16 MiB here): with 16, V8
    // found its old generation's headroom (~24 MiB over ~16 MiB live) smaller than the young
    // generation and kept a marking cycle running, a mark-compact every ~0.7-1.3 s at 10,000
    // events/s whose pauses were this thread's longest stalls (20-57 ms); with 8, 7 instead of
    // 18 mark-compacts in 25 s.
    this.worker = new Worker(THREAD_FILE, { workerData: { config, kafka: port2 }, transferList: [port2], resourceLimits: { maxYoungGenerationSizeMb: PIPELINE_YOUNG_GENERATION_MB } });
    this.worker.on('message', (m: ToMain) => this.onMessage(m));
    this.worker.on('error', (err) => this.onExit(err));
    this.worker.on('exit', (code) => this.onExit(new HimariError(ErrorCode.INTERNAL, `the pipeline thread exited (code ${code})`)));
  }

  /**
   * Opens the Kafka clients on this (the main) thread and starts the pipeline thread on them.
   * `onFatal`: the pipeline thread died outside a close (an uncaught error in it).
   */
  static async create(config: Readonly<Config>, log: Logger, onFatal: (err: Error) => void): Promise<PipelineThread> {
    return new PipelineThread(config, log, await openLocalKafkaClients(config.kafka, log), onFatal);
  }

  private onMessage(m: ToMain): void {
    switch (m.op) {
      case 'status':
        this.lastStatus = m.status;
        this.lastStatusAt = m.atMs;
        return;
      case 'started':
        // The pipeline's metrics hold this thread's event-loop delay too (thread="kafka").
        this.loopDelay ??= new LoopDelayMonitor((maxSeconds) => {
          if (!this.exited) this.worker.postMessage({ op: 'loopDelay', maxSeconds } satisfies ToPipeline);
        });
        this.startupMs = m.startupMs;
        this.storageMode = m.storageMode;
        this.lastStatus = m.status;
        this.lastStatusAt = Date.now();
        this.starting?.resolve();
        this.starting = null;
        return;
      case 'startFailed':
        this.starting?.reject(fromWireError(m.error));
        this.starting = null;
        return;
      case 'closed':
        this.summary_ = m.summary;
        this.closing?.resolve(m.outcome);
        this.closing = null;
        return;
      case 'closeFailed':
        this.closing?.reject(fromWireError(m.error));
        this.closing = null;
    }
  }

  private onExit(err: Error): void {
    if (this.exited) return;
    this.exited = true;
    this.loopDelay?.stop();
    if (this.starting !== null) {
      this.starting.reject(err);
      this.starting = null;
    } else if (this.closing !== null) {
      this.log.error({ err }, 'the pipeline thread ended during the close');
      this.closing.resolve('abandoned');
      this.closing = null;
    } else if (this.closed === null) {
      this.log.fatal({ err }, 'the pipeline thread died');
      this.onFatal(err);
    }
  }

  start(): Promise<void> {
    return this.started;
  }

  /** Stops the pipeline thread within `deadlineMs` (its own close, see `Pipeline.close`), then the Kafka port. */
  close(deadlineMs?: number): Promise<CloseOutcome> {
    this.closed ??= (async () => {
      this.loopDelay?.stop();
      const outcome = this.exited ? 'abandoned' : await new Promise<CloseOutcome>((resolve, reject) => {
        this.closing = { resolve, reject };
        this.worker.postMessage({ op: 'close', deadlineMs } satisfies ToPipeline);
      });
      // The pipeline closed its clients through the port, which closes after them.
      await Promise.race([this.served, new Promise((r) => setTimeout(r, 1_000).unref())]);
      await this.worker.terminate();
      return outcome;
    })();
    return this.closed;
  }

  /** The pipeline thread's last status; one gone quiet adds why to the reasons (so systemd's STATUS and watchdog see it). */
  status(now = Date.now()): ProcessorStatus {
    const age = now - this.lastStatusAt;
    if (age <= STATUS_STALE_MS || this.closed !== null) return this.lastStatus;
    const stalled = `pipeline thread silent for ${age} ms`;
    return { ...this.lastStatus, notReadyReasons: [...this.lastStatus.notReadyReasons, stalled], stalled };
  }

  summary(): RunSummary {
    return this.summary_ ?? { consumed: this.lastStatus.consumed, verdicts: [0, 0, 0, 0], checkFailures: [], sinks: [], committed: [] };
  }
}
