import Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { kafkaClientConfig } from '../kafka/client-config.js';
import { verifyKafkaAccess } from '../kafka/verify-access.js';
import { connectClient } from '../kafka/clients.js';

const TOPIC_ALREADY_EXISTS = 36;

/**
 * Creates the topics if missing (input topics and the dead-letter topic); idempotent. The first
 * Kafka call of every command, so it first checks that the brokers accept our credentials and
 * certificates: a refusal fails at once with the reason (see verifyKafkaAccess).
 */
export async function ensureTopics(config: KafkaConfig, topics: readonly string[], partitions = config.topicPartitions): Promise<void> {
  await verifyKafkaAccess(config);
  const admin = Kafka.AdminClient.create(kafkaClientConfig(config, 'admin'));
  try {
    for (const topic of topics) {
      await new Promise<void>((resolve, reject) => {
        admin.createTopic({ topic, num_partitions: partitions, replication_factor: config.topicReplicationFactor }, 15_000, (err) => {
          if (!err || err.code === TOPIC_ALREADY_EXISTS) resolve();
          else reject(new HimariError(ErrorCode.KAFKA_ERROR, `creating topic ${topic} at ${config.brokers}: ${err.message}`, { cause: err }));
        });
      });
    }
  } finally {
    admin.disconnect();
  }
}

/**
 * Start-up without creating topics (`kafka.createTopics` off): every topic the processor reads
 * or writes must exist, or start-up stops naming the missing ones, instead of a consumer that
 * waits for a topic that never comes and dead letters that cannot be stored.
 */
export async function requireTopics(config: KafkaConfig, topics: readonly string[]): Promise<void> {
  // Called after start-up reached the broker (reachDependencies verified the access already).
  const client = new Kafka.Producer(kafkaClientConfig(config, 'metadata'));
  await connectClient(client, config);
  try {
    const meta = await new Promise<Kafka.Metadata>((resolve, reject) =>
      client.getMetadata({ allTopics: true, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))));
    const present = new Set(meta.topics.filter((t) => t.partitions.length > 0).map((t) => t.name));
    const missing = topics.filter((t) => !present.has(t));
    if (missing.length > 0) {
      throw new HimariError(ErrorCode.CONFIG_INVALID, `Kafka at ${config.brokers}: topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} do${missing.length > 1 ? '' : 'es'} not exist: `
        + 'create them with their partitions, replication and retention (rpk topic create / kafka-topics.sh --create), or set kafka.createTopics=true to let the processor create them',
      { context: { missing } });
    }
  } finally {
    await new Promise<void>((resolve) => client.disconnect(() => resolve()));
  }
}

/** Low and high watermark of every partition of a topic. */
export async function topicEndOffsets(config: KafkaConfig, topic: string): Promise<Map<number, { low: number; high: number }>> {
  const client = new Kafka.Producer(kafkaClientConfig(config, 'offsets'));
  await connectClient(client, config);
  try {
    const meta = await new Promise<Kafka.Metadata>((resolve, reject) =>
      client.getMetadata({ topic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))));
    const t = meta.topics.find((x) => x.name === topic);
    if (t === undefined) throw new HimariError(ErrorCode.KAFKA_ERROR, `topic ${topic} not found`);
    const out = new Map<number, { low: number; high: number }>();
    for (const p of t.partitions) {
      const wm = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
        client.queryWatermarkOffsets(topic, p.id, 10_000, (err, o) => (err ? reject(err) : resolve(o))));
      out.set(p.id, { low: wm.lowOffset, high: wm.highOffset });
    }
    return out;
  } finally {
    await new Promise<void>((resolve) => client.disconnect(() => resolve()));
  }
}
