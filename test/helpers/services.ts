import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { encodeEvent } from '../../src/codec/encode.js';
import type { MarketEvent } from '../../src/codec/event.js';
import { SCHEMA_VERSION_TABLE, WATERMARK_TABLE } from '../../src/db/migrate.js';
import { ensureTopics, topicEndOffsets } from '../../src/source/kafka-admin.js';
import { kafkaClientConfig } from '../../src/kafka/client-config.js';
import { pgClientConfig } from '../../src/db/client-config.js';
import { PARTITION_POLICY_TABLE } from '../../src/db/partitions.js';
import { redisOptions } from '../../src/sinks/redis-sink.js';
import { deleteKeys } from './redis.js';

/**
 * Integration tests run against the real broker, Redis and PostgreSQL that `scripts/services.sh`
 * starts. Each test gets its own topics, consumer group, table and key prefix, and removes them.
 */
export function testConfig(overrides: Record<string, unknown> = {}): { config: Readonly<Config>; id: string; env: Record<string, string> } {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = {
    HIMARI_KAFKA_BROKERS: process.env.HIMARI_KAFKA_BROKERS ?? `127.0.0.1:${process.env.HIMARI_KAFKA_PORT ?? '9092'}`,
    HIMARI_KAFKA_TOPICS: `it.${id}`,
    HIMARI_KAFKA_DEAD_LETTER_TOPIC: `it.${id}.dlq`,
    HIMARI_KAFKA_GROUP_ID: `it-${id}`,
    HIMARI_KAFKA_TOPIC_PARTITIONS: '4',
    HIMARI_KAFKA_CREATE_TOPICS: 'true',
    HIMARI_POSTGRES_URL: process.env.HIMARI_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    HIMARI_POSTGRES_TABLE: `it_${id}`,
    HIMARI_REDIS_URL: process.env.HIMARI_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    HIMARI_REDIS_KEY_PREFIX: `it:${id}:`,
    HIMARI_METRICS_PORT: '0',
    HIMARI_WORKERS_THREADS: '2',
    HIMARI_LOG_LEVEL: 'warn',
  };
  for (const [k, v] of Object.entries(overrides)) env[k] = String(v);
  return { config: loadConfig({ env }), id, env };
}

export interface Produced {
  topic: string;
  count: number;
}

/** Produces values keyed as given and waits until the broker acknowledged every one. */
export async function produceRaw(config: Readonly<Config>, topic: string, messages: Array<{ key: string | null; value: Buffer; partition?: number }>,
  producerConfig: Kafka.ProducerGlobalConfig = {}): Promise<void> {
  const producer = new Kafka.Producer({ ...kafkaClientConfig(config.kafka, 'test-producer'), dr_cb: true, 'linger.ms': 2, 'queue.buffering.max.messages': 1_000_000, ...producerConfig });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  producer.setPollInterval(5);
  let delivered = 0;
  let failed = 0;
  producer.on('delivery-report', (err) => { if (err) failed++; else delivered++; });
  for (const m of messages) {
    for (;;) {
      try {
        producer.produce(topic, m.partition ?? null, m.value, m.key, Date.now());
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
  const deadline = Date.now() + 60_000;
  while (delivered + failed < messages.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  if (failed > 0 || delivered < messages.length) throw new Error(`produced ${delivered}/${messages.length}, ${failed} failed`);
}

export function produceEvents(config: Readonly<Config>, events: MarketEvent[]): Promise<void> {
  return produceRaw(config, config.kafka.topics[0]!, events.map((e) => ({ key: e.symbol, value: encodeEvent(e) })));
}

export async function createTopics(config: Readonly<Config>): Promise<void> {
  await ensureTopics(config.kafka, [...config.kafka.topics, config.kafka.deadLetterTopic]);
}

/** Offsets committed by the processor's group, per partition; where it has none, no valid offset (node-rdkafka gives undefined). */
export async function committedOffsets(config: Readonly<Config>): Promise<Map<number, number>> {
  const topic = config.kafka.topics[0]!;
  const ends = await topicEndOffsets(config.kafka, topic);
  const consumer = new Kafka.KafkaConsumer({ ...kafkaClientConfig(config.kafka, 'test-offsets'), 'group.id': config.kafka.groupId, 'enable.auto.commit': false }, {});
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  try {
    const parts = [...ends.keys()].map((partition) => ({ topic, partition }));
    const committed = await new Promise<Kafka.TopicPartitionOffset[]>((resolve, reject) =>
      consumer.committed(parts, 10_000, (err, tps) => (err ? reject(err) : resolve(tps))));
    return new Map(committed.map((tp) => [tp.partition, tp.offset]));
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

export async function endOffsets(config: Readonly<Config>): Promise<Map<number, number>> {
  const ends = await topicEndOffsets(config.kafka, config.kafka.topics[0]!);
  return new Map([...ends].map(([p, o]) => [p, o.high]));
}

export interface ConsumedMessage {
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  partition: number;
  offset: number;
}

/** A consumed message as the tests read it: key and headers as strings. */
export function consumedMessage(m: Kafka.Message): ConsumedMessage {
  const headers: Record<string, string> = {};
  for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers[k] = Buffer.from(v as Buffer).toString();
  return { key: m.key === null || m.key === undefined ? null : m.key.toString(), value: m.value ?? Buffer.alloc(0), headers, partition: m.partition, offset: m.offset };
}

/** Reads a topic from the beginning until `expected` messages arrived or `timeoutMs` passed. */
export async function readTopic(config: Readonly<Config>, topic: string, expected: number, timeoutMs = 20_000): Promise<ConsumedMessage[]> {
  const consumer = new Kafka.KafkaConsumer({
    ...kafkaClientConfig(config.kafka, 'test-reader'), 'group.id': `reader-${randomBytes(4).toString('hex')}`, 'enable.auto.commit': false,
  }, { 'auto.offset.reset': 'earliest' });
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  consumer.setDefaultConsumeTimeout(100);
  consumer.subscribe([topic]);
  const out: ConsumedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (out.length < expected && Date.now() < deadline) {
      const msgs = await new Promise<Kafka.Message[]>((resolve) => consumer.consume(500, (_err, m) => resolve(m ?? [])));
      for (const m of msgs) out.push(consumedMessage(m));
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
  return out;
}

export async function withPg<T>(config: Readonly<Config>, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(pgClientConfig(config.postgres));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A client with the processor's connection settings (ACL user, password key, TLS), for tests to look and clean up. */
export function redisClient(config: Readonly<Config>): Redis {
  return new Redis({ ...redisOptions(config.redis), lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: 3 });
}

/** Removes what a test created: topics, table, watermarks, keys. */
export async function cleanup(config: Readonly<Config>): Promise<void> {
  const t = config.postgres.table;
  await withPg(config, async (c) => {
    await c.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
    await c.query(`DELETE FROM ${WATERMARK_TABLE} WHERE target = $1`, [t]).catch(() => {});
    await c.query(`DELETE FROM ${PARTITION_POLICY_TABLE} WHERE target = $1`, [t]).catch(() => {});
    await c.query(`DELETE FROM ${SCHEMA_VERSION_TABLE} WHERE target = $1`, [t]).catch(() => {});
  });
  const redis = redisClient(config);
  try {
    await deleteKeys(redis, config.redis.keyPrefix);
  } finally {
    redis.disconnect();
  }
  const admin = Kafka.AdminClient.create(kafkaClientConfig(config.kafka, 'test-admin'));
  for (const topic of [...config.kafka.topics, config.kafka.deadLetterTopic]) {
    await new Promise<void>((resolve) => admin.deleteTopic(topic, 10_000, () => resolve()));
  }
  admin.disconnect();
}

/** Polls `probe` until it returns true or the timeout passes. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until the processor in this process has committed every non-empty partition to its end. */
export async function waitAppCommitted(app: { pipeline: { committed: Map<string, number> } }, config: Readonly<Config>, ends: Map<number, number>, timeoutMs = 60_000): Promise<void> {
  const topic = config.kafka.topics[0]!;
  await waitUntil('every offset committed', async () => {
    for (const [p, end] of ends) if (end > 0 && app.pipeline.committed.get(`${topic}[${p}]`) !== end) return false;
    return true;
  }, timeoutMs);
}

/** Waits until the consumer group (any process) has committed the end offsets. */
export async function waitGroupCommitted(config: Readonly<Config>, ends: Map<number, number>, timeoutMs: number): Promise<void> {
  await waitUntil('the group to commit the end offsets', async () => {
    const committed = await committedOffsets(config);
    return [...ends].every(([p, end]) => end === 0 || committed.get(p) === end);
  }, timeoutMs, 250);
}
