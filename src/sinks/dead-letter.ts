import { createHash } from 'node:crypto';
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import { describeTopicConfig } from '../source/kafka-topic-config.js';
import { ErrorCode, HimariError, errorMessage } from '../errors.js';
import { connectClient, createSinkProducer } from '../kafka/clients.js';
import type { Batchable, DriverCloseOptions, SinkDriver } from './core.js';

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
// librdkafka error codes the driver tells apart (node-rdkafka's CODES.ERRORS).
const MSG_SIZE_TOO_LARGE = Kafka.CODES.ERRORS.ERR_MSG_SIZE_TOO_LARGE;
const MSG_TIMED_OUT = Kafka.CODES.ERRORS.ERR__MSG_TIMED_OUT;
const TRANSPORT = Kafka.CODES.ERRORS.ERR__TRANSPORT;
const ALL_BROKERS_DOWN = Kafka.CODES.ERRORS.ERR__ALL_BROKERS_DOWN;
const QUEUE_FULL = Kafka.CODES.ERRORS.ERR__QUEUE_FULL;
/** A produce's outcome when the broker acknowledged it (any other is its error). */
const DELIVERED = Symbol('delivered');

/**
 * A dead letter on its way to the topic: what the sink core batches for the dead-letter driver.
 * One row; it holds one expected acknowledgement of its source batch's ticket, so the source
 * offset is committed only once the broker has the dead letter. Its delivery state survives a
 * retry of its batch, so a batch that partly landed is not produced twice.
 */
export class PendingDeadLetter implements Batchable<PendingDeadLetter> {
  readonly rows = 1;
  /** The broker acknowledged it: a retry of its batch skips it. */
  delivered = false;
  /** Refusals no retry heals (not a timeout or a lost connection), of `kafka.deadLetterMaxAttempts`. */
  refusals = 0;
  lastRefusal = '';
  /** Bytes of the value sent; -1 until the driver first sends it, halved on each refusal as too large. */
  keep = -1;

  constructor(readonly letter: DeadLetter, private readonly ticket: { ack(): void }) {}

  get topic(): string { return this.letter.sourceTopic; }
  get partition(): number { return this.letter.sourcePartition; }
  get firstOffset(): number { return this.letter.sourceOffset; }
  get bytes(): number { return this.letter.value.length; }

  splitFront(): PendingDeadLetter {
    // The core splits only items of more than one row.
    throw new HimariError(ErrorCode.INTERNAL, 'a dead letter is one row: it cannot be split');
  }

  ack(): void {
    this.ticket.ack();
  }
}

/**
 * The dead-letter topic as a sink: the core batches, retries, backpressures and measures
 * (`sink="dead-letter"`) as for any sink; this driver produces a batch and resolves when the
 * broker has acknowledged every dead letter of it (acks=all, idempotent producer). Headers:
 * `x-error-code`, `x-error-message`, `x-source-topic`, `x-source-partition`, `x-source-offset`,
 * `x-failed-at` (ms since the epoch); a truncated dead letter adds `x-truncated`,
 * `x-original-size` and `x-original-sha256`.
 *
 * What fails a batch: a timeout, a lost connection or a full queue is an outage, retriable
 * forever (consumption pauses behind the core's backpressure). Any other refusal is retriable
 * until a dead letter has had `kafka.deadLetterMaxAttempts` of them; then it is refused for good
 * (`DEAD_LETTER_FAILED`, not retriable): the core isolates it by bisection and hands it to its
 * permanent-failure handler, which leaves it unacknowledged (its partition stops: committing past
 * it would lose it). A refusal as too large is no failure: the dead letter is sent again at once
 * with half as much of its value (down to 1 kB), the rest described by the headers.
 */
export class DeadLetterDriver implements SinkDriver<PendingDeadLetter> {
  readonly name = 'dead-letter';
  private readonly producer: Kafka.Producer;
  private readonly pollTimer: NodeJS.Timeout;
  private partitions = 1;
  /** What a dead letter may weigh: the configured limit, lowered to the topic's own at connect. */
  private maxMessageBytes: number;

  constructor(private readonly config: KafkaConfig, private readonly log: Logger) {
    this.maxMessageBytes = config.deadLetterMaxMessageBytes;
    this.producer = createSinkProducer(config, 'dlq', {
      // The client refuses larger messages itself (ERR_MSG_SIZE_TOO_LARGE) before the broker would.
      'message.max.bytes': config.deadLetterMaxMessageBytes,
    });
    this.producer.on('delivery-report', (err, report) => {
      const pending = report.opaque as Pending | undefined;
      if (pending === undefined) return;
      if (err) pending.reject(err as unknown as Error); // its librdkafka code is what writeBatch reads
      else pending.resolve();
    });
    this.producer.on('event.error', (err) => this.log.warn({ err }, 'dead-letter producer error'));
    this.pollTimer = setInterval(() => { if (this.producer.isConnected()) this.producer.poll(); }, 5);
    this.pollTimer.unref();
  }

  async connect(): Promise<void> {
    // A retriable KAFKA_ERROR when the broker does not answer: the core tries again.
    await connectClient(this.producer, this.config);
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
   * Produces every dead letter of the batch not yet delivered and waits for all their delivery
   * reports (see the class comment for what fails it).
   */
  async writeBatch(items: readonly PendingDeadLetter[]): Promise<void> {
    const max = this.config.deadLetterMaxAttempts;
    const spent = items.find((d) => !d.delivered && d.refusals >= max);
    if (spent !== undefined) throw refusedForGood(spent);
    let pending = items.filter((d) => !d.delivered);
    let failure: unknown = null;
    let failed = 0;
    while (pending.length > 0) {
      for (const d of pending) {
        // The value's share of a message: the rest is key, headers and record framing.
        if (d.keep < 0) d.keep = Math.max(0, this.maxMessageBytes - (d.letter.key?.length ?? 0) - d.letter.message.length - HEADROOM_BYTES);
      }
      const outcomes = await Promise.all(pending.map((d) => this.produceOnce(d.letter, d.keep).then(() => DELIVERED, (err: unknown) => err)));
      const smaller: PendingDeadLetter[] = [];
      for (let i = 0; i < pending.length; i++) {
        const d = pending[i]!;
        const err = outcomes[i];
        if (err === DELIVERED) {
          d.delivered = true;
          continue;
        }
        // The broker's refusal arrives in the delivery report without its code (node-rdkafka
        // reports -1 with "Message size too large"); the client's own has the code. A refused
        // record batch fails every dead letter in it, small ones too: each is tried again as it is.
        const kept = Math.min(d.keep, d.letter.value.length);
        if (isTooLarge(err) && kept > MIN_KEEP_BYTES) {
          d.keep = kept >> 1;
          this.log.warn({ err, sourceTopic: d.letter.sourceTopic, sourcePartition: d.letter.sourcePartition, sourceOffset: d.letter.sourceOffset, keepBytes: d.keep },
            'dead letter refused as too large; sending less of it');
          smaller.push(d);
          continue;
        }
        failed++;
        failure ??= err;
        if (!isTransient(err)) {
          d.refusals++;
          d.lastRefusal = errorMessage(err);
        }
      }
      pending = smaller;
    }
    if (failed === 0) return;
    const now = items.find((d) => !d.delivered && d.refusals >= max);
    if (now !== undefined) throw refusedForGood(now);
    throw new HimariError(ErrorCode.SINK_WRITE_FAILED, `dead-letter topic ${this.config.deadLetterTopic}: ${failed} of ${items.length} dead letters not delivered: ${errorMessage(failure)}`,
      { retriable: true, cause: failure });
  }

  /** The errors outside `writeBatch` (connect's metadata request): a Kafka outage is retriable. */
  isRetriable(err: unknown): boolean {
    return isTransient(err);
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
        reject(err as Error); // too large for the client, or its queue is full: see writeBatch()
      }
    });
  }

  /**
   * Delivers what is queued for up to `how.deadlineMs` (10 s), then disconnects. Both run in a libuv pool
   * thread and block it for their whole timeout against a broker that does not answer, and Node's
   * exit joins that pool: with `graceful` false (the broker did not answer) nothing native is
   * called, and what was not delivered is left, its source batches unconfirmed, so the next
   * start dead-letters it again.
   */
  close(how: DriverCloseOptions = {}): Promise<void> {
    clearInterval(this.pollTimer);
    const flushMs = how.deadlineMs ?? 10_000;
    if (how.graceful === false) {
      this.log.warn('the broker does not answer: queued dead letters left for the next start');
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.producer.flush(flushMs, () => this.producer.disconnect(0, () => resolve()));
    });
  }
}

/** A timeout, a lost connection, a full queue: an outage, retried until it heals. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === MSG_TIMED_OUT || code === TRANSPORT || code === ALL_BROKERS_DOWN || code === QUEUE_FULL
    || (err as { isRetriable?: unknown } | null)?.isRetriable === true;
}

function isTooLarge(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === MSG_SIZE_TOO_LARGE || /size too large/i.test(errorMessage(err));
}

function refusedForGood(d: PendingDeadLetter): HimariError {
  const dl = d.letter;
  return new HimariError(ErrorCode.DEAD_LETTER_FAILED, `dead letter of ${dl.sourceTopic}[${dl.sourcePartition}]@${dl.sourceOffset} refused ${d.refusals} times: ${d.lastRefusal}`,
    { retriable: false, context: { sourceTopic: dl.sourceTopic, sourcePartition: dl.sourcePartition, sourceOffset: dl.sourceOffset } });
}
