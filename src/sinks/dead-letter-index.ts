import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import { kafkaClientConfig } from '../kafka/client-config.js';
import { ErrorCode, HimariError } from '../errors.js';
import { partitionKey } from '../source/partition-key.js';
import { connectClient } from '../kafka/clients.js';

/**
 * Producer and processor clocks may disagree; a dead letter is looked for this far before the
 * produce time of the first message the processor consumed from the source partition.
 */
const CLOCK_MARGIN_MS = 5 * 60_000;

/**
 * Makes dead-lettering exactly-once across crashes. The source offset is committed only after
 * the dead letter is acknowledged, so after a crash the tail of a partition is replayed, and a
 * dead letter written just before the crash would be written again. Before the first dead letter
 * of a source partition after (re)assignment, this scans the dead-letter partition that the
 * source partition maps to, from shortly before the first replayed message's timestamp to its
 * end, and remembers which source offsets are already there; those are acknowledged without
 * being produced again. Dead letters are rare, so the scan (a few hundred ms) is too.
 */
export class DeadLetterIndex {
  private readonly scans = new Map<string, Promise<Set<number>>>();

  constructor(private readonly config: KafkaConfig, private readonly log: Logger) {}

  /** Offsets of `topic[partition]` at or after `fromOffset` already in the dead-letter topic. */
  existing(topic: string, partition: number, dlqPartition: number, fromOffset: number, fromTimestampMs: number): Promise<Set<number>> {
    const key = partitionKey(topic, partition);
    let scan = this.scans.get(key);
    if (scan === undefined) {
      scan = this.scan(topic, partition, dlqPartition, fromOffset, fromTimestampMs).catch((err: Error) => {
        this.scans.delete(key);
        throw err;
      });
      this.scans.set(key, scan);
    }
    return scan;
  }

  /** Forgets a partition (revoked): its next owner scans again. */
  forget(topic: string, partition: number): void {
    this.scans.delete(partitionKey(topic, partition));
  }

  private async scan(topic: string, partition: number, dlqPartition: number, fromOffset: number, fromTimestampMs: number): Promise<Set<number>> {
    const dlq = this.config.deadLetterTopic;
    const consumer = new Kafka.KafkaConsumer({
      ...kafkaClientConfig(this.config, 'dlq-scan'),
      'group.id': `${this.config.groupId}-dlq-scan-${randomBytes(4).toString('hex')}`,
      'enable.auto.commit': false,
      'fetch.wait.max.ms': 10,
    }, { 'auto.offset.reset': 'earliest' });
    await connectClient(consumer, this.config);
    const found = new Set<number>();
    const started = Date.now();
    try {
      const high = await new Promise<number>((resolve, reject) =>
        consumer.queryWatermarkOffsets(dlq, dlqPartition, 10_000, (err, o) => (err ? reject(err) : resolve(o.highOffset))));
      const [start] = await new Promise<Kafka.TopicPartitionOffset[]>((resolve, reject) =>
        consumer.offsetsForTimes([{ topic: dlq, partition: dlqPartition, offset: Math.max(0, fromTimestampMs - CLOCK_MARGIN_MS) }], 10_000,
          (err, o) => (err ? reject(err) : resolve(o))));
      // offsetsForTimes answers -1 when no message is that new: nothing to scan.
      let position = start === undefined || start.offset < 0 ? high : start.offset;
      if (position < high) {
        consumer.assign([{ topic: dlq, partition: dlqPartition, offset: position }]);
        consumer.setDefaultConsumeTimeout(100);
        const deadline = Date.now() + 60_000;
        while (position < high) {
          if (Date.now() > deadline) throw new HimariError(ErrorCode.TIMEOUT, `dead-letter scan of ${dlq}[${dlqPartition}] stalled at ${position}/${high}`);
          const msgs = await new Promise<Kafka.Message[]>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(err) : resolve(m ?? []))));
          for (const m of msgs) {
            position = m.offset + 1;
            const h = headerMap(m.headers);
            if (h['x-source-topic'] === topic && Number(h['x-source-partition']) === partition) {
              const offset = Number(h['x-source-offset']);
              if (offset >= fromOffset) found.add(offset);
            }
          }
        }
      }
      this.log.info({ topic, partition, dlqPartition, found: found.size, ms: Date.now() - started }, 'dead-letter topic scanned for replayed dead letters');
      return found;
    } finally {
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    }
  }
}

function headerMap(headers: Kafka.MessageHeader[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of headers ?? []) for (const [k, v] of Object.entries(h)) out[k] = Buffer.isBuffer(v) ? v.toString() : String(v);
  return out;
}
