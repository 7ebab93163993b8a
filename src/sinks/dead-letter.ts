import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import { describeTopicConfig } from '../source/kafka-topic-config.js';
import { ErrorCode, HimariError, errorMessage } from '../errors.js';
import { KafkaCode, type ProduceRecord, type SinkProducer } from '../kafka/kafka-clients.js';
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

/** Room kept in a dead letter for the headers this producer adds and the record's framing. */
const HEADROOM_BYTES = 1024;
/** Below this, a refusal as too large is not the value's doing: it is not cut further. */
const MIN_KEEP_BYTES = 1024;

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
  private partitions = 1;
  /** What a dead letter may weigh: the configured limit, lowered to the topic's own at connect. */
  private maxMessageBytes: number;

  /** `producer`: the `dlq` sink producer, whose client refuses messages over kafka.deadLetterMaxMessageBytes itself. */
  constructor(private readonly config: KafkaConfig, private readonly log: Logger, private readonly producer: SinkProducer) {
    this.maxMessageBytes = config.deadLetterMaxMessageBytes;
  }

  async connect(): Promise<void> {
    // A retriable KAFKA_ERROR when the broker does not answer: the core tries again.
    await this.producer.connect();
    this.partitions = await this.producer.partitionCount(this.config.deadLetterTopic, 10_000);
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
      const outcomes = await this.producer.produce(pending.map((d) => this.recordOf(d.letter, d.keep)));
      const smaller: PendingDeadLetter[] = [];
      for (let i = 0; i < pending.length; i++) {
        const d = pending[i]!;
        const err = outcomes[i];
        if (err === null) {
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

  /** The record of `dl` with at most `keep` bytes of the value (the rest described by headers). */
  private recordOf(dl: DeadLetter, keep: number): ProduceRecord {
    const truncated = dl.value.length > keep;
    const headers: Array<Record<string, string>> = [
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
    return { topic: this.config.deadLetterTopic, partition: this.partitionFor(dl.sourcePartition), value, key: dl.key, headers };
  }

  /**
   * Delivers what is queued for up to `how.deadlineMs` (10 s), then disconnects. Both run in a libuv pool
   * thread and block it for their whole timeout against a broker that does not answer, and Node's
   * exit joins that pool: with `graceful` false (the broker did not answer) nothing native is
   * called, and what was not delivered is left, its source batches unconfirmed, so the next
   * start dead-letters it again.
   */
  close(how: DriverCloseOptions = {}): Promise<void> {
    if (how.graceful === false) this.log.warn('the broker does not answer: queued dead letters left for the next start');
    return this.producer.close({ flushMs: how.deadlineMs ?? 10_000, graceful: how.graceful !== false });
  }
}

/** A timeout, a lost connection, a full queue: an outage, retried until it heals. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === KafkaCode.MSG_TIMED_OUT || code === KafkaCode.TRANSPORT || code === KafkaCode.ALL_BROKERS_DOWN || code === KafkaCode.QUEUE_FULL
    || (err as { isRetriable?: unknown } | null)?.isRetriable === true;
}

function isTooLarge(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === KafkaCode.MSG_SIZE_TOO_LARGE || /size too large/i.test(errorMessage(err));
}

function refusedForGood(d: PendingDeadLetter): HimariError {
  const dl = d.letter;
  return new HimariError(ErrorCode.DEAD_LETTER_FAILED, `dead letter of ${dl.sourceTopic}[${dl.sourcePartition}]@${dl.sourceOffset} refused ${d.refusals} times: ${d.lastRefusal}`,
    { retriable: false, context: { sourceTopic: dl.sourceTopic, sourcePartition: dl.sourcePartition, sourceOffset: dl.sourceOffset } });
}
