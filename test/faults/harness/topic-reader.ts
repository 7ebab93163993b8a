import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import { topicEndOffsets } from '../../../src/source/kafka-admin.js';
import type { KafkaConfig } from '../../../src/config/schema.js';
import { kafkaClientConfig } from '../../../src/kafka/client-config.js';
import { consumedMessage, type ConsumedMessage } from '../../helpers/services.js';

/** A message as the verifier reads it. */
export type TopicMessage = ConsumedMessage;

/**
 * Every message of a topic, from its start to the end offsets it has now (not "until N arrived or
 * a timeout": a verifier must see a duplicate that was not expected as surely as a missing one).
 */
export async function readWholeTopic(kafka: KafkaConfig, topic: string, timeoutMs = 60_000): Promise<TopicMessage[]> {
  const ends = await topicEndOffsets(kafka, topic);
  const wanted = [...ends].filter(([, o]) => o.high > o.low);
  if (wanted.length === 0) return [];
  const consumer = new Kafka.KafkaConsumer({
    ...kafkaClientConfig(kafka, 'faults-reader'), 'group.id': `faults-reader-${randomBytes(4).toString('hex')}`,
    'enable.auto.commit': false, 'fetch.message.max.bytes': 8 * 1024 * 1024,
  }, {});
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  const out: TopicMessage[] = [];
  const position = new Map(wanted.map(([p, o]) => [p, o.low]));
  try {
    consumer.assign(wanted.map(([partition, o]) => ({ topic, partition, offset: o.low })));
    consumer.setDefaultConsumeTimeout(200);
    const deadline = Date.now() + timeoutMs;
    const behind = () => wanted.some(([p, o]) => position.get(p)! < o.high);
    while (behind()) {
      if (Date.now() > deadline) throw new Error(`reading ${topic}: stalled at ${JSON.stringify([...position])} of ${JSON.stringify(wanted.map(([p, o]) => [p, o.high]))}`);
      const msgs = await new Promise<Kafka.Message[]>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(err) : resolve(m ?? []))));
      for (const m of msgs) {
        position.set(m.partition, m.offset + 1);
        out.push(consumedMessage(m));
      }
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
  return out;
}
