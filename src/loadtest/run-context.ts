import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { pgClientConfig } from '../db/client-config.js';
import { WATERMARK_TABLE } from '../db/migrate.js';
import { kafkaClientConfig } from '../kafka/client-config.js';
import type { GroupLagProbe } from './kafka-probe.js';
import type { LatencyPoller } from './latency-poller.js';
import type { ProcSample } from './proc-stats.js';
import type { ProcessorChild } from './processor-child.js';
import type { LoadtestOptions, LoadtestResult } from './result.js';

// What every mode of a load test shares: the run's names, the processor child's environment,
// the wait for the group to catch up, and the cleanup of the run's topics, table and keys.

export type RunNames = LoadtestResult['names'];

/** What every generator of a run shares (each phase adds its topic, rate and schedule). */
export interface GeneratorBase {
  topic: string;
  symbols: number;
  venues: string[];
  bad: number;
  seed: number;
}

/** A run as its mode receives it: the processor is ready and the probes are connected. */
export interface RunContext {
  config: Readonly<Config>;
  o: LoadtestOptions;
  names: RunNames;
  startedAt: string;
  loadavgAtStart: number[];
  child: ProcessorChild;
  /** Drain mode with `o.processes` > 1: the other processes of the group, with their metrics ports. */
  others: Array<{ child: ProcessorChild; metricsPort: number }>;
  /** The processor's /proc sample once it reported ready. */
  atReady: ProcSample | null;
  probe: GroupLagProbe;
  poller: LatencyPoller;
  producer: Kafka.Producer;
  genOptions: GeneratorBase;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per-run names: topic, group, table and key prefix nobody else uses. */
export function runNames(): RunNames & { id: string } {
  const id = `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}${randomBytes(2).toString('hex')}`;
  return { id, topic: `lt-${id}`, group: `lt-${id}`, table: `lt_${id}`, redisPrefix: `lt:${id}:` };
}

/** The topic of the Kafka-alone phase (`transit.ts`). */
export function transitTopic(names: RunNames): string {
  return `${names.topic}.transit`;
}

/**
 * The run's PostgreSQL: the load test's database URL with the configured credentials and TLS
 * (the processor child gets the same: every HIMARI_* setting passes through).
 */
export function runPostgres(config: Readonly<Config>, o: LoadtestOptions): Config['postgres'] {
  return { ...config.postgres, url: o.postgresUrl };
}

export async function cleanupRun(config: Readonly<Config>, o: LoadtestOptions, names: RunNames): Promise<void> {
  const c = new pg.Client(pgClientConfig(runPostgres(config, o)));
  await c.connect().then(async () => {
    await c.query(`DROP TABLE IF EXISTS ${names.table} CASCADE`);
    await c.query(`DELETE FROM ${WATERMARK_TABLE} WHERE target = $1`, [names.table]).catch(() => {});
  }).catch((err: Error) => o.log(`cleanup: PostgreSQL: ${err.message}`)).finally(() => c.end().catch(() => {}));
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.redisPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch (err) {
    o.log(`cleanup: Redis: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
  const admin = Kafka.AdminClient.create(kafkaClientConfig(config.kafka, 'loadtest-admin'));
  for (const topic of [names.topic, `${names.topic}.dlq`, transitTopic(names)]) await new Promise<void>((resolve) => admin.deleteTopic(topic, 10_000, () => resolve()));
  admin.disconnect();
}

export function childEnv(o: LoadtestOptions, config: Readonly<Config>, names: RunNames): Record<string, string> {
  return {
    // Processor settings under test (HIMARI_SINK_BATCH_MAX_ROWS=2000 ...) and Node flags
    // (NODE_OPTIONS) pass through; the names that isolate this run below win.
    ...Object.fromEntries(Object.entries(process.env).filter((kv): kv is [string, string] => (kv[0].startsWith('HIMARI_') || kv[0] === 'NODE_OPTIONS') && kv[1] !== undefined)),
    HIMARI_KAFKA_BROKERS: config.kafka.brokers,
    HIMARI_KAFKA_TOPICS: names.topic,
    HIMARI_KAFKA_DEAD_LETTER_TOPIC: `${names.topic}.dlq`,
    HIMARI_KAFKA_GROUP_ID: names.group,
    HIMARI_KAFKA_TOPIC_PARTITIONS: String(o.partitions),
    HIMARI_KAFKA_CREATE_TOPICS: 'true',
    HIMARI_POSTGRES_URL: o.postgresUrl,
    HIMARI_POSTGRES_TABLE: names.table,
    HIMARI_REDIS_URL: o.redisUrl,
    HIMARI_REDIS_KEY_PREFIX: names.redisPrefix,
    HIMARI_METRICS_PORT: String(o.metricsPort),
    HIMARI_LOG_LEVEL: 'warn',
    HIMARI_SINK_STORES: o.stores.join(','),
    ...(o.threads === undefined ? {} : { HIMARI_WORKERS_THREADS: String(o.threads) }),
  };
}

/** Waits until the group committed everything produced, or the timeout; true when it did. */
export async function waitCaughtUp(probe: GroupLagProbe, end: number, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await probe.committed()) >= end) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}
