import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { kafkaClientConfig } from '../kafka/client-config.js';

/** Why a message was dead-lettered and where it came from; written as message headers. */
export interface DeadLetter {
  code: string;
  message: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  key: Buffer | null;
  value: Buffer;
}

type Pending = { resolve: () => void; reject: (err: Error) => void };

/**
 * Producer for the dead-letter topic. `send` resolves only on the broker's delivery report
 * (acks=all, idempotent producer), so the caller acknowledges the source offset only after the
 * dead letter is safely stored. Headers: `x-error-code`, `x-error-message`, `x-source-topic`,
 * `x-source-partition`, `x-source-offset`, `x-failed-at` (ms since the epoch).
 */
export class DeadLetterProducer {
  private readonly producer: Kafka.Producer;
  private readonly pollTimer: NodeJS.Timeout;
  private partitions = 1;

  constructor(private readonly config: KafkaConfig, private readonly log: Logger) {
    this.producer = new Kafka.Producer({
      ...kafkaClientConfig(config, 'dlq'),
      dr_cb: true,
      'enable.idempotence': true,
      'linger.ms': 1,
      'socket.nagle.disable': true,
    }, {
      // Delivery is retried by librdkafka for this long; past it `send` rejects and retries.
      'message.timeout.ms': 30_000,
    });
    this.producer.on('delivery-report', (err, report) => {
      const pending = report.opaque as Pending | undefined;
      if (pending === undefined) return;
      if (err) pending.reject(new HimariError(ErrorCode.KAFKA_ERROR, `dead-letter delivery failed: ${err.message}`, { retriable: true, cause: err }));
      else pending.resolve();
    });
    this.producer.on('event.error', (err) => this.log.warn({ err: err.message }, 'dead-letter producer error'));
    this.pollTimer = setInterval(() => { if (this.producer.isConnected()) this.producer.poll(); }, 5);
    this.pollTimer.unref();
  }

  async connect(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.producer.connect({ timeout: 10_000 }, (err) => (err ? reject(new HimariError(ErrorCode.SERVICE_UNAVAILABLE, `Kafka (dead-letter producer) at ${this.config.brokers}: ${err.message}`, { cause: err })) : resolve()));
    });
    const meta = await new Promise<Kafka.Metadata>((resolve, reject) =>
      this.producer.getMetadata({ topic: this.config.deadLetterTopic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))));
    this.partitions = Math.max(1, meta.topics.find((t) => t.name === this.config.deadLetterTopic)?.partitions.length ?? 1);
  }

  /**
   * Dead letters of a source partition always go to the same dead-letter partition, so that
   * replays can be recognised by scanning one partition (see DeadLetterIndex).
   */
  partitionFor(sourcePartition: number): number {
    return sourcePartition % this.partitions;
  }

  /** Resolves when the broker has the dead letter; retries delivery failures until it does. */
  async send(dl: DeadLetter): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.produceOnce(dl);
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, attempt }, 'dead-letter send failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  private produceOnce(dl: DeadLetter): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.producer.produce(this.config.deadLetterTopic, this.partitionFor(dl.sourcePartition), dl.value, dl.key, Date.now(), { resolve, reject }, [
          { 'x-error-code': dl.code },
          { 'x-error-message': dl.message },
          { 'x-source-topic': dl.sourceTopic },
          { 'x-source-partition': String(dl.sourcePartition) },
          { 'x-source-offset': String(dl.sourceOffset) },
          { 'x-failed-at': String(Date.now()) },
        ]);
      } catch (err) {
        reject(err as Error); // local queue full: retried by send()
      }
    });
  }

  close(): Promise<void> {
    clearInterval(this.pollTimer);
    return new Promise((resolve) => {
      this.producer.flush(10_000, () => this.producer.disconnect(() => resolve()));
    });
  }
}
