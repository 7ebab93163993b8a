import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import type { Source, SourceHandlers } from '../source/source.js';

/**
 * Every Kafka client the processor runs, behind one interface: the consumer, the sinks'
 * producers (dead-letter topic, output topic), the start-up admin calls and the dead-letter
 * scan. node-rdkafka loads in one thread of a process only, and runs its callbacks on the
 * process's main loop, so all of them live on the main thread: `LocalKafkaClients` for a
 * pipeline on that thread, `PortKafkaClients` (served by `serveKafkaClients`) for a pipeline in
 * another. Only src/kafka/local-clients.ts's import graph imports node-rdkafka; the rest of the
 * pipeline imports the types here.
 */
export interface KafkaClients {
  /** Where the clients run: on this thread, or at the other end of a port. */
  readonly placement: 'local' | 'port';
  /** Fails at once, with librdkafka's reason, when the brokers refuse the credentials or TLS (see verifyKafkaAccess). */
  verifyAccess(timeoutMs?: number): Promise<void>;
  /** Creates the topics if missing (idempotent). */
  ensureTopics(topics: readonly string[]): Promise<void>;
  /** Stops start-up naming every topic that does not exist. */
  requireTopics(topics: readonly string[]): Promise<void>;
  /** The source offsets of `req.topic[req.partition]` from `req.fromOffset` already in the dead-letter topic (DeadLetterIndex). */
  scanDeadLetters(req: DeadLetterScanRequest): Promise<number[]>;
  /** The consumer (one per process). */
  source(log: Logger, handlers: SourceHandlers): Source;
  /** A sink's idempotent producer: `dlq` (the dead-letter topic) or `output`. */
  sinkProducer(kind: SinkProducerKind, log: Logger): SinkProducer;
  /** Ends the client thread (the clients themselves are closed by their owners first). */
  close(): Promise<void>;
}

export type SinkProducerKind = 'dlq' | 'output';

export interface DeadLetterScanRequest {
  topic: string;
  partition: number;
  dlqPartition: number;
  fromOffset: number;
  fromTimestampMs: number;
}

export interface ProduceRecord {
  topic: string;
  partition: number;
  value: Uint8Array;
  key: Uint8Array | string | null;
  headers: Array<Record<string, string>>;
}

/**
 * librdkafka's error as data that crosses a port: its code (see `KafkaCode`; -1 when it had none)
 * and message. A record it did not deliver, or a client call it failed.
 */
export class KafkaClientError extends Error {
  constructor(readonly code: number, message: string, readonly retriable?: boolean) {
    super(message);
    this.name = 'KafkaClientError';
  }
}

/**
 * A sink's producer (idempotent, acks=all; src/kafka/clients.ts `createSinkProducer`), producing
 * a batch at a time: one call, and with the client thread one message each way, per batch.
 */
export interface SinkProducer {
  /** Connects (a retriable KAFKA_ERROR when the broker does not answer) and polls delivery reports. */
  connect(): Promise<void>;
  /** Partitions of `topic` per the broker's metadata. */
  partitionCount(topic: string, timeoutMs: number): Promise<number>;
  /**
   * Produces the records and resolves once every one has its delivery report: per record null
   * (delivered) or why not (also a produce call librdkafka refused at once: a full queue, too large).
   */
  produce(records: readonly ProduceRecord[]): Promise<Array<KafkaClientError | null>>;
  /**
   * Delivers what is queued for up to `flushMs`, then disconnects; with `graceful` false (a broker
   * that does not answer) calls nothing native, which would block a libuv thread past the deadline.
   */
  close(how: { flushMs: number; graceful: boolean }): Promise<void>;
}

/** librdkafka's error codes the sinks tell apart (node-rdkafka's CODES.ERRORS; a unit test checks them). */
export const KafkaCode = {
  MSG_SIZE_TOO_LARGE: 10,
  MSG_TIMED_OUT: -192,
  TRANSPORT: -195,
  ALL_BROKERS_DOWN: -187,
  QUEUE_FULL: -184,
} as const;

/** The Kafka clients on this thread (node-rdkafka is imported here, and only then). */
export async function openLocalKafkaClients(config: KafkaConfig, log: Logger): Promise<KafkaClients> {
  const { LocalKafkaClients } = await import('./local-clients.js');
  return new LocalKafkaClients(config, log);
}
