import type { ConsumedBatch } from './consumed-batch.js';
import type { CommitPoint } from './offset-tracker.js';
import type { PartitionKey } from './partition-key.js';

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** What the source tells the pipeline. Called on the pipeline's thread. */
export interface SourceHandlers {
  /**
   * Messages of one consume call, in partition order, packed (node-rdkafka's message objects
   * are dropped at the source). Must not block.
   */
  onMessages(batch: ConsumedBatch): void;
  /** Partitions added to this consumer (cooperative: incremental). */
  onAssigned(partitions: TopicPartition[]): void;
  /**
   * Partitions taken away. Resolve once their taken batches are in the sinks and committed;
   * the source unassigns them after that (bounded by the rebalance deadline).
   */
  onRevoked(partitions: TopicPartition[]): Promise<void>;
  /** The broker refused these commit points; they are to be committed again. */
  onCommitFailed(points: CommitPoint[]): void;
  /** The broker confirmed these commit points. */
  onCommitConfirmed(points: CommitPoint[]): void;
}

/**
 * The consumer as the pipeline uses it: `KafkaSource` on the pipeline's own thread, or
 * `ThreadSource` in front of one in the Kafka client thread (src/kafka/client-thread.ts).
 * Offsets are committed only through `commit`, up to what every sink confirmed.
 */
export interface Source {
  /** The partitions this consumer owns now. */
  readonly assigned: readonly TopicPartition[];
  /** Partitions stopped for good (`stopPartition`) → why; kept paused until revoked. */
  readonly stopped: ReadonlyMap<PartitionKey, string>;
  readonly paused: boolean;
  /** The partition's high watermark as the consumer last saw it (no broker call), if known. */
  highWatermark(topic: string, partition: number): number | undefined;
  connect(): Promise<void>;
  /** Subscribes and starts the consume loop. */
  start(): void;
  /** Backpressure: stop taking messages until `resume`. */
  pause(): void;
  resume(): void;
  /** Stops consuming one partition until it is revoked (a message of it cannot be delivered). */
  stopPartition(topic: string, partition: number, why: string): void;
  /** Commits confirmed offsets (async; the outcome comes back through the handlers). */
  commit(points: readonly CommitPoint[]): void;
  /** The final commit: true once the broker confirmed every point within `timeoutMs`. Call after `stop`. */
  commitAndWait(points: readonly CommitPoint[], timeoutMs: number): Promise<boolean>;
  /** True when the broker answers a metadata request within `timeoutMs`. */
  brokerAnswers(timeoutMs: number): Promise<boolean>;
  /** Stops the consume loop (the in-flight consume call returns first). */
  stop(): Promise<void>;
  /** Leaves the group (or, with `leaveGroup` false, only stops: a broker that does not answer) and closes. */
  disconnect(leaveGroup?: boolean): Promise<void>;
}
