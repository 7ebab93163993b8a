import Kafka from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { kafkaClientConfig } from './client-config.js';

/** Any node-rdkafka client: a producer, a consumer. */
interface Connectable {
  connect(options: Kafka.MetadataOptions, callback: (err: Kafka.LibrdKafkaError | null | undefined, metadata: Kafka.Metadata) => void): unknown;
}

/**
 * Connects a client (its first metadata request) within `timeoutMs`; a failure is a retriable
 * `KAFKA_ERROR` naming the brokers. Every client of the processor and its tools connects here.
 */
export function connectClient(client: Connectable, config: Pick<KafkaConfig, 'brokers'>, timeoutMs = 10_000): Promise<Kafka.Metadata> {
  return new Promise((resolve, reject) => client.connect({ timeout: timeoutMs }, (err, metadata) => {
    if (err) reject(new HimariError(ErrorCode.KAFKA_ERROR, `Kafka at ${config.brokers}: ${err.message}`, { retriable: true, cause: err }));
    else resolve(metadata);
  }));
}

/**
 * The tools' producer (produce, replay, the load test's generator): delivery reports on, 1 ms
 * linger, a deep queue, no compression, so a generator measures the processor and not itself.
 */
export function createProducer(config: KafkaConfig, clientSuffix: string): Kafka.Producer {
  return new Kafka.Producer({
    ...kafkaClientConfig(config, clientSuffix),
    dr_cb: true,
    'linger.ms': 1,
    'batch.num.messages': 10_000,
    'queue.buffering.max.messages': 1_000_000,
    'queue.buffering.max.kbytes': 1_048_576,
    'socket.nagle.disable': true,
    'compression.codec': 'none',
  });
}

/**
 * The sinks' producer (the dead-letter topic, the output topic): idempotent (so acks=all),
 * delivery reports on, 1 ms linger and no Nagle (a write's latency counts), and librdkafka's own
 * retries for `message.timeout.ms` (30 s by default) before a delivery fails and the sink core
 * retries it. `extra` and `topicExtra`: the sink's own settings on top.
 */
export function createSinkProducer(config: KafkaConfig, clientSuffix: string, extra: Kafka.ProducerGlobalConfig = {},
  topicExtra: Kafka.ProducerTopicConfig = {}): Kafka.Producer {
  return new Kafka.Producer({
    ...kafkaClientConfig(config, clientSuffix),
    dr_cb: true,
    'enable.idempotence': true,
    'linger.ms': 1,
    'socket.nagle.disable': true,
    ...extra,
  }, { 'message.timeout.ms': 30_000, ...topicExtra });
}

/** Connects a tools' producer and polls its delivery reports every 5 ms. */
export async function connectProducer(p: Kafka.Producer, config: Pick<KafkaConfig, 'brokers'>): Promise<void> {
  await connectClient(p, config);
  p.setPollInterval(5);
}
