import { createHash } from 'node:crypto';
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import { RetryDelays } from './retry-delays.js';
import { describeTopicConfig } from '../source/kafka-topic-config.js';
import { ErrorCode, HimariError, backoffMs } from '../errors.js';
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

/** Room kept in a dead letter for the headers this producer adds and the record's framing. */
const HEADROOM_BYTES = 1024;
/** Below this, a refusal as too large is not the value's doing: it is not cut further. */
const MIN_KEEP_BYTES = 1024;
// librdkafka error codes send() tells apart (node-rdkafka's CODES.ERRORS).
const MSG_SIZE_TOO_LARGE = Kafka.CODES.ERRORS.ERR_MSG_SIZE_TOO_LARGE;
const MSG_TIMED_OUT = Kafka.CODES.ERRORS.ERR__MSG_TIMED_OUT;
const TRANSPORT = Kafka.CODES.ERRORS.ERR__TRANSPORT;
const ALL_BROKERS_DOWN = Kafka.CODES.ERRORS.ERR__ALL_BROKERS_DOWN;
const QUEUE_FULL = Kafka.CODES.ERRORS.ERR__QUEUE_FULL;

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
  private aborted = false;
  /** What a dead letter may weigh: the configured limit, lowered to the topic's own at connect. */
  private maxMessageBytes: number;
  private readonly delays = new RetryDelays();

  constructor(private readonly config: KafkaConfig, private readonly log: Logger) {
    this.maxMessageBytes = config.deadLetterMaxMessageBytes;
    this.producer = new Kafka.Producer({
      ...kafkaClientConfig(config, 'dlq'),
      dr_cb: true,
      'enable.idempotence': true,
      'linger.ms': 1,
      'socket.nagle.disable': true,
      // The client refuses larger messages itself (ERR_MSG_SIZE_TOO_LARGE) before the broker would.
      'message.max.bytes': config.deadLetterMaxMessageBytes,
    }, {
      // Delivery is retried by librdkafka for this long; past it `send` rejects and retries.
      'message.timeout.ms': 30_000,
    });
    this.producer.on('delivery-report', (err, report) => {
      const pending = report.opaque as Pending | undefined;
      if (pending === undefined) return;
      if (err) pending.reject(err as unknown as Error); // its librdkafka code is what send() reads
      else pending.resolve();
    });
    this.producer.on('event.error', (err) => this.log.warn({ err }, 'dead-letter producer error'));
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
    try {
      const entries = await describeTopicConfig(this.config, this.config.deadLetterTopic, ['max.message.bytes']);
      const topicMax = Number(entries.get('max.message.bytes'));
      if (Number.isSafeInteger(topicMax) && topicMax > 0) this.maxMessageBytes = Math.min(this.maxMessageBytes, topicMax);
      this.log.info({ topic: this.config.deadLetterTopic, topicMaxMessageBytes: topicMax, maxMessageBytes: this.maxMessageBytes }, 'dead-letter topic limit read');
    } catch (err) {
      // A broker it cannot read it from: the configured limit, and the broker's refusal, still hold.
      this.log.warn({ err, maxMessageBytes: this.maxMessageBytes }, 'could not read the dead-letter topic\'s max.message.bytes; using kafka.deadLetterMaxMessageBytes');
    }
  }

  /**
   * Dead letters of a source partition always go to the same dead-letter partition, so that
   * replays can be recognised by scanning one partition (see DeadLetterIndex).
   */
  partitionFor(sourcePartition: number): number {
    return sourcePartition % this.partitions;
  }

  /**
   * Resolves when the broker has the dead letter. A dead letter larger than the topic takes is
   * stored truncated (headers say so); a refusal as too large halves what is kept. Timeouts and
   * lost connections are retried until they heal (an outage, like a sink's); any other refusal is
   * tried `kafka.deadLetterMaxAttempts` times, then rejected with `DEAD_LETTER_FAILED`. Rejects
   * with `CLOSED` after `abort`.
   */
  async send(dl: DeadLetter): Promise<void> {
    // The value's share of a message: the rest is key, headers and record framing.
    let keep = this.maxMessageBytes - (dl.key?.length ?? 0) - dl.message.length - HEADROOM_BYTES;
    let refused = 0;
    for (let attempt = 0; ; attempt++) {
      if (this.aborted) throw new HimariError(ErrorCode.CLOSED, 'dead-letter send abandoned: the producer was aborted');
      try {
        await this.produceOnce(dl, Math.max(0, keep));
        return;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        // The broker's refusal arrives in the delivery report without its code (node-rdkafka
        // reports -1 with "Message size too large"); the client's own has the code. A refused
        // record batch fails every dead letter in it, small ones too: each is retried.
        const tooLarge = code === MSG_SIZE_TOO_LARGE || /size too large/i.test((err as Error).message ?? '');
        // A dead letter of a few hundred bytes was refused for its batch-mates: sent again as it is.
        if (tooLarge && Math.min(keep, dl.value.length) > MIN_KEEP_BYTES) {
          keep = Math.min(keep, dl.value.length) >> 1;
          this.log.warn({ err, sourceTopic: dl.sourceTopic, sourcePartition: dl.sourcePartition, sourceOffset: dl.sourceOffset, keepBytes: keep },
            'dead letter refused as too large; sending less of it');
          continue;
        }
        const transient = code === MSG_TIMED_OUT || code === TRANSPORT || code === ALL_BROKERS_DOWN || code === QUEUE_FULL
          || (err as { isRetriable?: unknown }).isRetriable === true;
        if (!transient && ++refused >= this.config.deadLetterMaxAttempts) {
          throw new HimariError(ErrorCode.DEAD_LETTER_FAILED, `dead letter of ${dl.sourceTopic}[${dl.sourcePartition}]@${dl.sourceOffset} refused ${refused} times: ${(err as Error).message}`,
            { cause: err, context: { sourceTopic: dl.sourceTopic, sourcePartition: dl.sourcePartition, sourceOffset: dl.sourceOffset } });
        }
        if (attempt === 0 || attempt % 10 === 0) this.log.warn({ err, attempt, transient }, 'dead-letter send failed; retrying');
        await this.delays.wait(backoffMs(attempt, 100, 5000));
      }
    }
  }


  /** The shutdown deadline passed: sends in their retry delay give up (their offsets stay uncommitted). */
  abort(): void {
    this.aborted = true;
    this.delays.wakeAll();
  }

  /** Produces once, with at most `keep` bytes of the value (the rest described by headers). */
  private produceOnce(dl: DeadLetter, keep: number): Promise<void> {
    const truncated = dl.value.length > keep;
    const headers: Kafka.MessageHeader[] = [
      { 'x-error-code': dl.code },
      { 'x-error-message': dl.message },
      { 'x-source-topic': dl.sourceTopic },
      { 'x-source-partition': String(dl.sourcePartition) },
      { 'x-source-offset': String(dl.sourceOffset) },
      { 'x-failed-at': String(Date.now()) },
    ];
    if (truncated) {
      headers.push({ 'x-truncated': 'true' }, { 'x-original-size': String(dl.value.length) },
        { 'x-original-sha256': createHash('sha256').update(dl.value).digest('hex') });
    }
    const value = truncated ? dl.value.subarray(0, keep) : dl.value;
    return new Promise((resolve, reject) => {
      try {
        this.producer.produce(this.config.deadLetterTopic, this.partitionFor(dl.sourcePartition), value, dl.key, Date.now(), { resolve, reject }, headers);
      } catch (err) {
        reject(err as Error); // too large for the client, or its queue is full: see send()
      }
    });
  }

  /**
   * Delivers what is queued for up to `flushMs`, then disconnects. Both run in a libuv pool
   * thread and block it for their whole timeout against a broker that does not answer, and Node's
   * exit joins that pool: with `graceful` false (the broker did not answer) nothing native is
   * called, and what was not delivered is left, its source batches unconfirmed, so the next
   * start dead-letters it again.
   */
  close(flushMs = 10_000, graceful = true): Promise<void> {
    clearInterval(this.pollTimer);
    if (!graceful) {
      this.log.warn('the broker does not answer: queued dead letters left for the next start');
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.producer.flush(flushMs, () => this.producer.disconnect(0, () => resolve()));
    });
  }
}
