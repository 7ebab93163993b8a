import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import { ensureTopics, requireTopics } from '../source/kafka-admin.js';
import { KafkaSource } from '../source/kafka-source.js';
import type { Source, SourceHandlers } from '../source/source.js';
import { connectClient, createSinkProducer } from './clients.js';
import { scanDeadLetters } from './dead-letter-scan.js';
import { KafkaClientError, type DeadLetterScanRequest, type KafkaClients, type ProduceRecord, type SinkProducer, type SinkProducerKind } from './kafka-clients.js';
import { verifyKafkaAccess } from './verify-access.js';

/**
 * The Kafka clients on this thread (node-rdkafka loads here, which must be the main thread):
 * used by a pipeline on this thread, or served to one in another (`serveKafkaClients`).
 */
export class LocalKafkaClients implements KafkaClients {
  readonly placement = 'local';

  constructor(private readonly config: KafkaConfig, private readonly log: Logger) {}

  verifyAccess(timeoutMs?: number): Promise<void> {
    return verifyKafkaAccess(this.config, timeoutMs);
  }

  ensureTopics(topics: readonly string[]): Promise<void> {
    return ensureTopics(this.config, topics);
  }

  requireTopics(topics: readonly string[]): Promise<void> {
    return requireTopics(this.config, topics);
  }

  scanDeadLetters(req: DeadLetterScanRequest): Promise<number[]> {
    return scanDeadLetters(this.config, this.log.child({ stage: 'dead-letters' }), req);
  }

  source(log: Logger, handlers: SourceHandlers): Source {
    return new KafkaSource(this.config, log, handlers);
  }

  sinkProducer(kind: SinkProducerKind, log: Logger): SinkProducer {
    return new LocalSinkProducer(this.config, kind, log);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Where a record's delivery report goes: its slot in its batch's outcomes. */
interface Delivery {
  outcomes: Array<KafkaClientError | null>;
  index: number;
  done: () => void;
}

/** A sink's producer on this thread (see `SinkProducer`). */
export class LocalSinkProducer implements SinkProducer {
  private readonly producer: Kafka.Producer;
  private pollTimer: NodeJS.Timeout | null = null;

  constructor(private readonly config: KafkaConfig, private readonly kind: SinkProducerKind, private readonly log: Logger) {
    this.producer = kind === 'dlq'
      ? createSinkProducer(config, kind,
        // The client refuses larger messages itself (ERR_MSG_SIZE_TOO_LARGE) before the broker would.
        { 'message.max.bytes': config.deadLetterMaxMessageBytes },
        // Dead letters are exactly-once, and idempotence makes only librdkafka's own retries safe:
        // a send whose acknowledgement was lost (the broker killed -9 after writing it, replies
        // held past the request timeout) and that then timed out came back from the sink core as
        // a new message, and the topic held it twice (seen in the fault suite with the broker down
        // 20 s: written, unacknowledged, timed out 30 s after the send). librdkafka therefore
        // never gives a dead letter up: it retries it under the same sequence number until the
        // broker has it, which dedupes. A shutdown abandons what is still queued; the successor's
        // DeadLetterIndex finds what the broker holds.
        { 'message.timeout.ms': 0 })
      : createSinkProducer(config, kind, { 'queue.buffering.max.messages': 1_000_000 });
    this.producer.on('delivery-report', (err, report) => {
      const d = report.opaque as Delivery | undefined;
      if (d === undefined) return;
      if (err) d.outcomes[d.index] = produceError(err);
      d.done();
    });
    this.producer.on('event.error', (err) => this.log.warn({ err }, `${this.kind} producer error`));
  }

  async connect(): Promise<void> {
    if (this.producer.isConnected()) return;
    await connectClient(this.producer, this.config);
    if (this.pollTimer === null) {
      this.pollTimer = setInterval(() => { if (this.producer.isConnected()) this.producer.poll(); }, 5);
      this.pollTimer.unref();
    }
  }

  partitionCount(topic: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => this.producer.getMetadata({ topic, timeout: timeoutMs }, (err, m) => {
      if (err) reject(err);
      else resolve(Math.max(1, m.topics.find((t) => t.name === topic)?.partitions.length ?? 1));
    }));
  }

  produce(records: readonly ProduceRecord[]): Promise<Array<KafkaClientError | null>> {
    const outcomes = new Array<KafkaClientError | null>(records.length).fill(null);
    if (records.length === 0) return Promise.resolve(outcomes);
    return new Promise((resolve) => {
      let left = records.length;
      const done = () => { if (--left === 0) resolve(outcomes); };
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        try {
          this.producer.produce(r.topic, r.partition, asBuffer(r.value), typeof r.key === 'string' || r.key === null ? r.key : asBuffer(r.key),
            Date.now(), { outcomes, index: i, done } satisfies Delivery, r.headers);
        } catch (err) {
          // Too large for the client, or its queue is full: no delivery report will come.
          outcomes[i] = produceError(err);
          done();
        }
      }
    });
  }

  close(how: { flushMs: number; graceful: boolean }): Promise<void> {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
    // Flush and disconnect block a libuv pool thread for their whole timeout against a broker
    // that does not answer, and Node's exit joins that pool: nothing native without `graceful`.
    if (!how.graceful || !this.producer.isConnected()) return Promise.resolve();
    return new Promise((resolve) => {
      this.producer.flush(how.flushMs, () => this.producer.disconnect(0, () => resolve()));
    });
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function produceError(err: unknown): KafkaClientError {
  const e = err as { code?: unknown; message?: unknown };
  return new KafkaClientError(typeof e.code === 'number' ? e.code : -1, typeof e.message === 'string' ? e.message : String(err));
}
