import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { kafkaClientConfig } from './client-config.js';
import { connectClient } from './clients.js';
import type { DeadLetterScanRequest } from './kafka-clients.js';

/**
 * Producer and processor clocks may disagree; a dead letter is looked for this far before the
 * produce time of the first message the processor consumed from the source partition.
 */
const CLOCK_MARGIN_MS = 5 * 60_000;

/**
 * The source offsets of `req.topic[req.partition]` at or after `req.fromOffset` that the
 * dead-letter partition `req.dlqPartition` already holds, read from shortly before
 * `req.fromTimestampMs` to its end by a consumer of its own (see DeadLetterIndex).
 */
export async function scanDeadLetters(config: KafkaConfig, log: Logger, req: DeadLetterScanRequest): Promise<number[]> {
  const { topic, partition, dlqPartition, fromOffset, fromTimestampMs } = req;
  const dlq = config.deadLetterTopic;
  const consumer = new Kafka.KafkaConsumer({
    ...kafkaClientConfig(config, 'dlq-scan'),
    'group.id': `${config.groupId}-dlq-scan-${randomBytes(4).toString('hex')}`,
    'enable.auto.commit': false,
    'fetch.wait.max.ms': 10,
  }, { 'auto.offset.reset': 'earliest' });
  await connectClient(consumer, config);
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
    log.info({ topic, partition, dlqPartition, found: found.size, ms: Date.now() - started }, 'dead-letter topic scanned for replayed dead letters');
    return [...found];
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

function headerMap(headers: Kafka.MessageHeader[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of headers ?? []) for (const [k, v] of Object.entries(h)) out[k] = Buffer.isBuffer(v) ? v.toString() : String(v);
  return out;
}
